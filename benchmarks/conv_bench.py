"""What conv_autoencoder.py costs on a CPU, beside the same model in PyTorch and JAX (a command,
not a test; make bench runs it after bench.py).

    MNIST_DIR=~/data/mnist python benchmarks/conv_bench.py --markdown docs/engineering.md

One training epoch of conv_autoencoder.py's model (1 x 28 x 28 -> two 4x4 convolutions of
stride 2, 16 and 32 maps -> a code of 100 -> back up by two transposed convolutions; relu,
masking noise 0.3, dropout 0.1 on the code, Adam, batch 100) on the original's 52,500 training
images: ours (Chainer 7.8.1 on NumPy, its convolutions lab/convolution.py's), the same with
Chainer's own convolutions (stock), PyTorch, and JAX with its whole step jitted, interleaved
repeat by repeat, median of --repeat, each after a pause (as bench.py), on --threads threads
(OpenBLAS's for ours, torch.set_num_threads, XLA's flags for JAX). Where ours and stock spend
an epoch, from a profile of one each: the convolutions (ours: lab.convolution's nodes, their
unfolding, folding and products; stock: Chainer's im2col and col2im, and tensordot with the
copies it makes of its operands), and all the rest (the dense layers, the activations, the
optimizer, the graph).
"""
import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import lab.compat  # noqa: E402,F401  (before Chainer)

import autoencoder as ae  # noqa: E402
import conv_autoencoder as cae  # noqa: E402
import utils  # noqa: E402
from lab import convolution, machine, options, report  # noqa: E402

TEMPLATES = os.path.join(ROOT, 'benchmarks', 'templates')
CASE = dict(channels=(16, 32), n_hidden=100, noise=.3, dropout=.1, batchsize=100)
PAUSE = .5


class Ours:
    def __init__(self, train, test, seed=1):
        model = cae.ConvAutoEncoder(train.shape[1], CASE['n_hidden'], CASE['channels'],
                                    dropout_ratio=CASE['dropout'], activate='relu', seed=seed)
        self.trainer = ae.Train_AutoEncoder([train, test], model, corruption_ratio=CASE['noise'],
                                            rng=seed, optimizer='Adam')

    def epoch(self):
        self.trainer.train_epoch(CASE['batchsize'])


class Stock(Ours):
    """Ours with Chainer's own convolutions (im2col, tensordot, col2im)."""

    def epoch(self):
        convolution.enabled = False
        try:
            super().epoch()
        finally:
            convolution.enabled = True


class PyTorch:
    def __init__(self, train, test, seed=1):
        import torch
        from torch import nn
        self.torch, side = torch, int(np.sqrt(train.shape[1]))
        torch.manual_seed(seed)
        c1, c2 = CASE['channels']
        inner = c2 * (side // 4) ** 2
        self.model = nn.Sequential(
            nn.Unflatten(1, (1, side, side)), nn.Conv2d(1, c1, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(inner, CASE['n_hidden']),
            nn.ReLU(), nn.Dropout(CASE['dropout']), nn.Linear(CASE['n_hidden'], inner), nn.ReLU(),
            nn.Unflatten(1, (c2, side // 4, side // 4)), nn.ConvTranspose2d(c2, c1, 4, 2, 1),
            nn.ReLU(), nn.ConvTranspose2d(c1, 1, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-8)
        self.train = torch.from_numpy(train)
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self):
        torch = self.torch
        self.model.train()
        order = torch.randperm(len(self.train), generator=self.generator)
        for i in range(0, len(order), CASE['batchsize']):
            x = self.train[order[i:i + CASE['batchsize']]]
            noisy = x * (torch.rand(x.shape, generator=self.generator) >= CASE['noise'])
            loss = torch.nn.functional.mse_loss(self.model(noisy), x)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


class JAX:
    def __init__(self, train, test, seed=1):
        import jax
        import jax.numpy as jnp
        import optax
        self.jax = jax
        side, (c1, c2) = int(np.sqrt(train.shape[1])), CASE['channels']
        dims = ('NCHW', 'OIHW', 'NCHW')
        key = jax.random.key(seed)
        keys = jax.random.split(key, 7)
        lecun = lambda k, shape, fan_in: jax.random.normal(k, shape) / np.sqrt(fan_in)  # noqa
        inner = c2 * (side // 4) ** 2
        params = dict(c1=lecun(keys[0], (c1, 1, 4, 4), 16),
                      c2=lecun(keys[1], (c2, c1, 4, 4), c1 * 16),
                      e=lecun(keys[2], (inner, CASE['n_hidden']), inner),
                      d=lecun(keys[3], (CASE['n_hidden'], inner), CASE['n_hidden']),
                      t2=lecun(keys[4], (c1, c2, 4, 4), c2 * 16),
                      t1=lecun(keys[5], (1, c1, 4, 4), c1 * 16))
        relu = jax.nn.relu

        def forward(p, x, key):
            h = x.reshape(-1, 1, side, side)
            h = relu(jax.lax.conv_general_dilated(h, p['c1'], (2, 2), ((1, 1), (1, 1)),
                                                  dimension_numbers=dims))
            h = relu(jax.lax.conv_general_dilated(h, p['c2'], (2, 2), ((1, 1), (1, 1)),
                                                  dimension_numbers=dims))
            code = relu(h.reshape(len(x), -1) @ p['e'])
            code = code * jax.random.bernoulli(key, 1 - CASE['dropout'], code.shape) / (
                1 - CASE['dropout'])
            g = relu(code @ p['d']).reshape(-1, c2, side // 4, side // 4)
            g = relu(jax.lax.conv_transpose(g, p['t2'], (2, 2), 'SAME', dimension_numbers=dims))
            y = relu(jax.lax.conv_transpose(g, p['t1'], (2, 2), 'SAME', dimension_numbers=dims))
            return y.reshape(len(x), -1)

        def loss(p, x, key):
            k1, k2 = jax.random.split(key)
            noisy = x * jax.random.bernoulli(k1, 1 - CASE['noise'], x.shape)
            return jnp.mean((forward(p, noisy, k2) - x) ** 2)

        optimizer = optax.adam(1e-3, eps=1e-8)

        def step(state, index):
            p, opt_state, key = state
            key, sub = jax.random.split(key)
            grads = jax.grad(loss)(p, self.train[index], sub)
            updates, opt_state = optimizer.update(grads, opt_state, p)
            return optax.apply_updates(p, updates), opt_state, key

        self.train = jnp.asarray(train)
        self.state = (params, optimizer.init(params), keys[6])
        self.step = jax.jit(step, donate_argnums=0)
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        order = self.rng.permutation(len(self.train))
        for i in range(0, len(order), CASE['batchsize']):
            self.state = self.step(self.state, order[i:i + CASE['batchsize']])
        self.jax.block_until_ready(self.state)


def peers():
    found, said = {}, []
    for key, cls, module in (('pytorch', PyTorch, 'torch'), ('jax', JAX, 'jax')):
        try:
            __import__(module)
            __import__('optax') if module == 'jax' else None
            found[key] = cls
            said.append(f'{module} {sys.modules[module].__version__}')
        except ImportError:
            said.append(f'{module} skipped: not installed (make bench-setup)')
    return found, '; '.join(said)


def where_the_time_goes(cls, train, test):
    """Seconds of one epoch of `cls` (Ours, Stock) in its convolutions and in the rest."""
    model = cls(train, test)
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    model.epoch()
    profile.disable()
    total = time.perf_counter() - t0
    stats = pstats.Stats(profile).stats
    within = lambda test: sum(  # noqa: E731
        s[3] for (path, _, name), s in stats.items() if test(path, name))
    ours = lambda path, name: path.endswith('convolution.py') and name in (  # noqa: E731
        'forward_cpu', 'backward')  # the nodes: their unfolding, folding and products
    stock = lambda path, name: name in ('im2col_cpu', 'col2im_cpu', 'tensordot')  # noqa: E731
    parts = dict(convolutions=within(ours if cls is Ours else stock))
    if cls is Stock:
        parts.update(unfolding=within(lambda path, name: name in ('im2col_cpu', 'col2im_cpu')))
    return dict(parts, rest=total - parts['convolutions'], total=total)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--n-train', type=int, default=52500)
    p.add_argument('--dataset', default='auto', choices=options.DATASETS)
    p.add_argument('--threads', type=int, default=2, help='threads of every implementation')
    p.add_argument('--markdown', metavar='PATH',
                   help='also write the table between the conv-bench markers of this file '
                        '(docs/engineering.md), and its numbers as JSON beside it')
    args = p.parse_args(argv)
    os.environ['XLA_FLAGS'] = (f'--xla_cpu_multi_thread_eigen={str(args.threads > 1).lower()} '
                               f'intra_op_parallelism_threads={args.threads}')  # before JAX
    from threadpoolctl import threadpool_limits
    with threadpool_limits(args.threads):
        return measure(args, argv)


def measure(args, argv):
    split = utils.load_mnist(dataset=args.dataset, seed=1)
    (x_train, x_test), _ = split
    train = np.resize(x_train, (args.n_train, x_train.shape[1]))
    found, said = peers()
    if 'pytorch' in found:
        import torch
        torch.set_num_threads(args.threads)
    impls = {'ours': Ours, 'stock': Stock, **found}
    models = {name: cls(train, x_test[:100]) for name, cls in impls.items()}
    for m in models.values():  # warm-up (JAX's compilation)
        m.epoch()
    times = {name: [] for name in models}
    for _ in range(args.repeat):
        for name, m in models.items():
            time.sleep(PAUSE)
            t0 = time.perf_counter()
            m.epoch()
            times[name].append(time.perf_counter() - t0)
    medians = {name: statistics.median(t) for name, t in times.items()}
    numbers = dict(command=' '.join(['python benchmarks/conv_bench.py',
                                     *(sys.argv[1:] if argv is None else argv)]),
                   **machine.describe(), date=time.strftime('%Y-%m-%d'), peers=said,
                   data=f'{split.name}, {len(train)} training rows of {train.shape[1]} pixels',
                   repeat=args.repeat, case=CASE, medians=medians, threads=args.threads,
                   ratios={name: statistics.median(a / b for a, b in zip(times['ours'], t))
                           for name, t in times.items() if name != 'ours'},
                   parts={cls.__name__.lower(): where_the_time_goes(cls, train, x_test[:100])
                          for cls in (Ours, Stock)})
    print(report.render('conv-bench.md.j2', TEMPLATES, **numbers))
    if args.markdown:
        name = 'conv-bench' if args.threads == 2 else f'conv-bench-{args.threads}-thread'
        report.write_block(args.markdown, name, numbers, TEMPLATES, 'conv-bench.md.j2')


if __name__ == '__main__':
    main()
