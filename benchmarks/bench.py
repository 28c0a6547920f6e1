"""Speed of this project against the same model in PyTorch: `make bench` (a command, not a test).

The model is autoencoder.py's __main__ one: 784 -> 100, dropout .10 on the hidden layer,
masking noise .30, AdaDelta, MSE to the clean input. The data are the original's
52,500-image training set: real MNIST rows when the MNIST files are there (MNIST_DIR; all
70,000 images, split 75/25), else the available images (e.g. the bundled 8x8 digits) tiled
to that size; the data line says which. Ours and PyTorch's are timed in one process, interleaved
repeat by repeat, so drift of the machine hits both alike. Each row gives the median, min
and max over --repeat runs, the ratio ours / PyTorch, and how far it is from the floor:
the row's floating-point work divided by the rate NumPy's matmul reaches on its shapes here.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import autoencoder as ae  # noqa: E402
import deep_autoencoder as da  # noqa: E402
import utils  # noqa: E402

N_TRAIN = 52500  # 75% of MNIST's 70,000, the original's training-set size
N_HIDDEN, DROPOUT, NOISE = 100, .1, .3


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------- the two implementations

class Ours:
    def __init__(self, train, test, activate, seed=1):
        model = ae.AutoEncoder(train.shape[1], N_HIDDEN, dropout_ratio=DROPOUT, activate=activate,
                               seed=seed)
        self.trainer = ae.Train_AutoEncoder([train, test], model, corruption_ratio=NOISE, rng=seed,
                                            optimizer='AdaDelta')

    def epoch(self, batchsize):
        self.trainer.train_epoch(batchsize)

    def evaluate(self):
        return self.trainer.evaluate(self.trainer.train), self.trainer.evaluate(self.trainer.test)


class PyTorch:
    """The same model, loop and evaluation, written as a PyTorch user would."""

    def __init__(self, train, test, activate, seed=1):
        import torch
        self.torch = torch
        torch.manual_seed(seed)
        act = {'relu': torch.nn.ReLU, 'sigmoid': torch.nn.Sigmoid}[activate]
        n = train.shape[1]
        self.model = torch.nn.Sequential(torch.nn.Linear(n, N_HIDDEN), act(), torch.nn.Dropout(DROPOUT),
                                         torch.nn.Linear(N_HIDDEN, n), act())
        # Chainer's AdaDelta defaults: rho .95, eps 1e-6, no learning rate
        self.optimizer = torch.optim.Adadelta(self.model.parameters(), lr=1.0, rho=.95, eps=1e-6)
        self.train, self.test = torch.from_numpy(train), torch.from_numpy(test)
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, batchsize):
        torch, x_all = self.torch, self.train
        self.model.train()
        order = torch.randperm(len(x_all), generator=self.generator)
        for i in range(0, len(order), batchsize):
            x = x_all[order[i:i + batchsize]]
            noisy = x * (torch.rand(x.shape, generator=self.generator) >= NOISE)
            loss = torch.nn.functional.mse_loss(self.model(noisy), x)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def evaluate(self, batchsize=10000):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            return [sum(float(((self.model(x[i:i + batchsize]) - x[i:i + batchsize]) ** 2).sum())
                        for i in range(0, len(x), batchsize)) / x.numel()
                    for x in (self.train, self.test)]


class PlainNumPy:
    """The same step by hand in NumPy, no framework: what Chainer's NumPy backend could reach."""

    def __init__(self, train, test, activate, seed=1):
        self.rng = np.random.default_rng(seed)
        n = train.shape[1]
        self.train, self.relu = train, activate == 'relu'
        self.params = [self.rng.standard_normal((N_HIDDEN, n), dtype=np.float32) / np.sqrt(n),
                       np.zeros(N_HIDDEN, np.float32),
                       self.rng.standard_normal((n, N_HIDDEN), dtype=np.float32) / np.sqrt(N_HIDDEN),
                       np.zeros(n, np.float32)]
        self.msg = [np.zeros_like(p) for p in self.params]
        self.msdx = [np.zeros_like(p) for p in self.params]

    def act(self, a):  # the activation and its derivative as a function of its output
        if self.relu:
            y = np.maximum(a, 0)
            return y, y > 0
        y = 1 / (1 + np.exp(-a))
        return y, y * (1 - y)

    def epoch(self, batchsize):
        w1, b1, w2, b2 = self.params
        order = self.rng.permutation(len(self.train))
        for i in range(0, len(order), batchsize):
            x = self.train[order[i:i + batchsize]]
            noisy = x * (self.rng.random(x.shape, dtype=np.float32) >= NOISE)
            h, dh = self.act(noisy @ w1.T + b1)
            mask = (self.rng.random(h.shape, dtype=np.float32) >= DROPOUT) / np.float32(1 - DROPOUT)
            hd = h * mask
            y, dy = self.act(hd @ w2.T + b2)
            gy = (y - x) * np.float32(2 / x.size) * dy
            gh = (gy @ w2) * mask * dh
            for p, g, msg, msdx in zip(self.params, (gh.T @ noisy, gh.sum(0), gy.T @ hd, gy.sum(0)),
                                       self.msg, self.msdx):  # AdaDelta, as Chainer's
                msg *= .95
                msg += .05 * g * g
                dx = np.sqrt((msdx + 1e-6) / (msg + 1e-6)) * g
                msdx *= .95
                msdx += .05 * dx * dx
                p -= dx


# ---------------------------------------------------------------- the floor

def matmul_rate(batchsize, n_inputs, repeat=20):
    """GFLOP/s of NumPy's float32 matmul on one training step's shapes (forward + backward)."""
    rng = np.random.default_rng(0)
    x = rng.random((batchsize, n_inputs), dtype=np.float32)
    w1 = rng.random((N_HIDDEN, n_inputs), dtype=np.float32)
    w2 = rng.random((n_inputs, N_HIDDEN), dtype=np.float32)
    h = rng.random((batchsize, N_HIDDEN), dtype=np.float32)

    gy = x  # the gradient at the output has the input's shape

    def step():
        x @ w1.T, h @ w2.T  # forward
        gy.T @ h, gy @ w2, h.T @ x  # backward: gW2, gh, gW1 (gh.T @ x)
    step()
    seconds = min(timed(step) for _ in range(repeat))
    return 5 * 2 * batchsize * n_inputs * N_HIDDEN / seconds / 1e9


def epoch_gflop(n_train, n_inputs):
    """Two matmuls forward, three backward (no gradient for the input): 5 * 2*N*n*h."""
    return 5 * 2 * n_train * n_inputs * N_HIDDEN / 1e9


# ---------------------------------------------------------------- peak memory of a real run

PEAK_SCRIPT = '''
import sys, numpy as np
sys.path.insert(0, {root!r})
import autoencoder as ae, utils
(data, _) = utils.load_mnist(dataset={dataset!r}, seed=1)
train = np.resize(data[0], ({n_train}, data[0].shape[1]))
model = ae.AutoEncoder(train.shape[1], 100, dropout_ratio=.1, activate='relu', seed=1)
ae.Train_AutoEncoder([train, data[1]], model, corruption_ratio=.3, rng=1,
                     optimizer='AdaDelta').start({epochs}, 100, log=None)
# VmHWM, not ru_maxrss: the latter keeps the parent's size from before exec
peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))
print(int(peak.split()[1]) * 1024, train.nbytes + data[1].nbytes)
'''


def peak_memory(dataset, n_train, epochs):
    out = subprocess.run([sys.executable, '-c', PEAK_SCRIPT.format(
        root=ROOT, dataset=dataset, n_train=n_train, epochs=epochs)],
        capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


# ---------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=5, help='timed runs per row')
    p.add_argument('--n-train', type=int, default=N_TRAIN, help='training samples (tiled)')
    p.add_argument('--memory-epochs', type=int, default=20,
                   help='epochs of the run whose peak memory is measured (0: skip)')
    p.add_argument('--dataset', default='auto', choices=utils.DATASETS)
    p.add_argument('--json', metavar='PATH', help='also write the results as JSON')
    args = p.parse_args(argv)
    for name in ('repeat', 'n_train'):
        utils.check_int(name, getattr(args, name))

    split = utils.load_mnist(dataset=args.dataset, seed=1)
    (x_train, x_test), _ = split
    if len(x_train) >= args.n_train:
        train, rows = x_train[:args.n_train], 'real rows'
    else:
        train, rows = np.resize(x_train, (args.n_train, x_train.shape[1])), 'tiled'
    n_inputs = train.shape[1]
    try:
        import torch
        peer = f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads'
    except ImportError:
        torch, peer = None, 'skipped: torch not installed'
    header = dict(data=f'{split.name}: {len(train)} training samples ({rows}: {len(x_train)} '
                       f'training images of {n_inputs} inputs), {len(x_test)} test images',
                  machine=f'{platform.machine()}, {os.cpu_count()} cores',
                  date=time.strftime('%Y-%m-%d'), peer=peer,
                  versions=f'Python {platform.python_version()}, NumPy {np.__version__}, '
                           f'Chainer {ae.chainer.__version__}')
    for key, value in header.items():
        print(f'{key}: {value}')

    # Training epochs and evaluation, ours and PyTorch's interleaved.
    cases = [('relu', 100), ('sigmoid', 100), ('relu', 1000)]
    impls = {'ours': Ours, 'numpy': PlainNumPy}
    if torch is not None:
        impls['pytorch'] = PyTorch
    models = {(case, name): cls(train, x_test, case[0]) for case in cases for name, cls in impls.items()}
    times = {key: [] for key in models}
    eval_times = {name: [] for name in impls if name != 'numpy'}
    for key, m in models.items():  # warm-up
        m.epoch(key[0][1])
    for _ in range(args.repeat):
        for (case, name), m in models.items():
            times[case, name].append(timed(lambda: m.epoch(case[1])))
        for name in eval_times:
            eval_times[name].append(timed(models[cases[0], name].evaluate))

    rows = []

    def row(what, ours, pytorch=None, gflop=None, rate=None, numpy=None):
        r = dict(row=what, median=statistics.median(ours), min=min(ours), max=max(ours))
        if pytorch:
            r.update(pytorch=statistics.median(pytorch), ratio=r['median'] / statistics.median(pytorch))
        if numpy:
            r.update(numpy=statistics.median(numpy))
        if gflop:
            r.update(floor=gflop / rate, over_floor=r['median'] / (gflop / rate))
        rows.append(r)

    rates = {bs: matmul_rate(bs, n_inputs) for bs in (100, 1000)}
    for case in cases:
        activate, bs = case
        row(f'epoch, {activate}, batch {bs}', times[case, 'ours'], times.get((case, 'pytorch')),
            epoch_gflop(len(train), n_inputs), rates[bs], numpy=times[case, 'numpy'])
    eval_gflop = 2 * 2 * (len(train) + len(x_test)) * n_inputs * N_HIDDEN / 1e9
    row('evaluation, train + test MSE', eval_times['ours'], eval_times.get('pytorch'),
        eval_gflop, rates[1000])

    # The rest: ours only.
    tiles = np.random.default_rng(0).random((784, 784))
    with tempfile.TemporaryDirectory() as tmp:
        row('save_images, 784 tiles of 28x28',
            [timed(lambda: utils.save_images(tiles, os.path.join(tmp, 'w.png'))) for _ in range(args.repeat)])
        x_all = np.resize(np.round(np.concatenate([x_train, x_test]) * 255).astype(np.uint8),
                          (70000, n_inputs))
        utils.write_cache(os.path.join(tmp, 'mnist_784.npz'), x_all, np.zeros(70000, np.uint8))
        saved = os.environ.pop('MNIST_DIR', None)
        try:
            row('MNIST load from the .npz cache (70,000)',
                [timed(lambda: utils.load_mnist(dataset='mnist', cache_dir=tmp)) for _ in range(args.repeat)])
        finally:
            if saved is not None:
                os.environ['MNIST_DIR'] = saved
    dae = da.Train_DAE([train, x_test], da.DAE(n_inputs, (100, 25), activate='sigmoid',
                                               dropout_ratio=.1),
                       corruption_ratio=.3, optimizer='Adam', rng=1)
    row('deep autoencoder (100, 25), pretraining epoch',
        [timed(lambda: dae.pre_training(1, 100, log=None)) for _ in range(max(1, args.repeat // 2))])

    print(f'\nfloor: {epoch_gflop(len(train), n_inputs):.1f} GFLOP per training epoch; NumPy matmul '
          f'on these shapes: {rates[100]:.0f} GFLOP/s at batch 100, {rates[1000]:.0f} at batch 1000')
    print(f'{"row":46s} {"median s":>9s} {"min":>7s} {"max":>7s} {"PyTorch":>8s} '
          f'{"ours/PT":>8s} {"NumPy":>7s} {"floor s":>8s} {"x floor":>8s}')
    for r in rows:
        opt = lambda key, fmt: format(r[key], fmt) if key in r else '-'  # noqa: E731
        print(f'{r["row"]:46s} {r["median"]:9.3f} {r["min"]:7.3f} {r["max"]:7.3f} '
              f'{opt("pytorch", "8.3f"):>8s} {opt("ratio", "8.2f"):>8s} {opt("numpy", "7.3f"):>7s} '
              f'{opt("floor", "8.3f"):>8s} {opt("over_floor", "8.1f"):>8s}')
    memory = None
    if args.memory_epochs:
        peak, data_bytes = peak_memory(split.name, len(train), args.memory_epochs)
        memory = dict(peak_bytes=peak, data_bytes=data_bytes, epochs=args.memory_epochs,
                      budget_bytes=2 * data_bytes + 400 * 2**20)
        print(f'\npeak resident memory of a {args.memory_epochs}-epoch run: {peak / 2**20:.0f} MiB '
              f'(data {data_bytes / 2**20:.0f} MiB; budget 2 x data + 400 MiB = '
              f'{memory["budget_bytes"] / 2**20:.0f} MiB)')
    if args.json:
        utils.write_json(args.json, dict(header, rows=rows, memory=memory, matmul_gflops=rates,
                                         command=' '.join(sys.argv)))


if __name__ == '__main__':
    main()
