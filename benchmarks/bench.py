"""Speed of this project against the same models in PyTorch and JAX: `make bench` (a command,
not a test).

Three training epochs are timed, ours and the peers' interleaved repeat by repeat in one
process, so drift of the machine hits all alike (each after a pause, see PAUSE):
  (a) autoencoder.py's __main__ model: 784 -> 100, relu, dropout .10 on the hidden layer,
      masking noise .30, AdaDelta, batch 100, on the original's 52,500 training images
  (b) the same at batch 1000
  (c) a network the size of Hinton & Salakhutdinov's (Science 2006): 784-1000-500-250-30 and
      back, sigmoid, Adam, batch 100, on 60,000 images, no noise, no dropout
The peers: PyTorch, and JAX with optax twice, its whole training step one jitted function
called from a Python loop, and its whole epoch one jitted lax.scan over the minibatches.
The rows are real MNIST images when the files are there (MNIST_DIR); otherwise the available
images (e.g. the bundled 8x8 digits) are tiled to that many, and the data line says so. Each
row gives the median over --repeat runs of each, the ratio ours / fastest peer (the median
of the ratios of the interleaved pairs, which the machine's drift cancels out of), and how far
it is from the floor: the row's matrix-product work divided by the rate NumPy's matmul
reaches on its shapes here; below it each epoch is split into the products (timed alone, for
each at its own rate: PyTorch's BLAS is Intel's MKL, JAX's is XLA's, ours OpenBLAS through
NumPy) and the rest. Rows (a) and (b) also time the step written by hand in plain NumPy.
"""
import argparse
import os
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
from lab import machine, options, report  # noqa: E402
from lab.files import write_json  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
from peers import JAX, PlainNumPy, PyTorch, layer_shapes  # noqa: E402

N_HIDDEN, DROPOUT, NOISE = 100, .1, .3
CASES = {  # row: the model, its training and how many training rows
    'epoch (a): 784-100, relu, AdaDelta, batch 100': dict(
        sizes=(N_HIDDEN,), activate='relu', optimizer='AdaDelta', batchsize=100, dropout=DROPOUT,
        noise=NOISE, rows='n_train'),
    'epoch (b): 784-100, relu, AdaDelta, batch 1000': dict(
        sizes=(N_HIDDEN,), activate='relu', optimizer='AdaDelta', batchsize=1000, dropout=DROPOUT,
        noise=NOISE, rows='n_train'),
    'epoch (c): 784-1000-500-250-30, sigmoid, Adam, batch 100': dict(
        sizes=(1000, 500, 250, 30), activate='sigmoid', optimizer='Adam', batchsize=100,
        dropout=0., noise=0., rows='n_train_deep'),
}
# The steps' own cost: (a) and (c) with the same loops and as many steps, on 8 inputs (the middle
# of each image) and 4 units a layer, where the arithmetic is next to nothing.
CASES.update({f'steps of ({row}) on 8 inputs, 4 units a layer: all but the arithmetic': dict(
    case, inputs=8, sizes=(4,) * len(case['sizes']))
    for row, case in (('a', CASES['epoch (a): 784-100, relu, AdaDelta, batch 100']),
                      ('c', CASES['epoch (c): 784-1000-500-250-30, sigmoid, Adam, batch 100']))})


PAUSE = .5  # seconds before each timed run: the threads the one before left spinning (XLA's,
# OpenMP's, OpenBLAS's) go to sleep; measured, ours ran 10-15% slower right after a JAX epoch


def timed(fn, pause=0.):
    time.sleep(pause)
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------- the implementations

class Ours:
    """This project's model (AutoEncoder for one hidden size, else the DAE) and trainer."""

    def __init__(self, train, test, case, seed=1):
        n = train.shape[1]
        if len(case['sizes']) == 1:
            model = ae.AutoEncoder(n, case['sizes'][0], dropout_ratio=case['dropout'],
                                   activate=case['activate'], seed=seed)
        else:
            model = da.DAE(n, case['sizes'], activate=case['activate'],
                           dropout_ratio=case['dropout'], seed=seed)
        self.trainer = ae.Train_AutoEncoder([train, test], model, corruption_ratio=case['noise'],
                                            rng=seed, optimizer=case['optimizer'])

    def epoch(self, batchsize):
        self.trainer.train_epoch(batchsize)

    def evaluate(self):
        return self.trainer.evaluate(self.trainer.train), self.trainer.evaluate(self.trainer.test)


# ---------------------------------------------------------------- the floor

def step_flop(batchsize, shapes):
    """Matrix-product work of one training step: each link's product forward, its weight
    gradient and, but for the first link (no gradient for the input), its input gradient."""
    return sum((6 if i else 4) * batchsize * n_in * n_out for i, (n_in, n_out) in enumerate(shapes))


def matmul_rate(batchsize, shapes, repeat=10, peer=None):
    """GFLOP/s of float32 matmul on one training step's products: NumPy's, or with peer
    'pytorch' PyTorch's, with 'jax' JAX's (the step's products as one jitted function, the
    weights stored as JAX users store them, inputs x outputs)."""
    rng = np.random.default_rng(0)
    arrays = [(rng.random((batchsize, n_in), dtype=np.float32),
               rng.random((n_out, n_in), dtype=np.float32),
               rng.random((batchsize, n_out), dtype=np.float32)) for n_in, n_out in shapes]

    def products(arrays):
        out = []
        for i, (x, w, gy) in enumerate(arrays):
            out += [x @ w.T, gy.T @ x]  # forward, weight gradient
            if i:
                out.append(gy @ w)  # input gradient
        return out
    step = lambda: products(arrays)  # noqa: E731
    if peer == 'pytorch':
        import torch
        arrays = [tuple(map(torch.from_numpy, a)) for a in arrays]
    elif peer == 'jax':
        import jax
        arrays = [(x, w.T.copy(), gy) for x, w, gy in arrays]
        jitted = jax.jit(lambda arrays: [p for i, (x, w, gy) in enumerate(arrays)
                                         for p in (x @ w, x.T @ gy, *([gy @ w.T] if i else []))])
        arrays = jax.device_put(arrays)
        step = lambda: jax.block_until_ready(jitted(arrays))  # noqa: E731
    step()
    return step_flop(batchsize, shapes) / min(timed(step) for _ in range(repeat)) / 1e9


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


def original_save_images(data_list, filename):
    """The original's save_images, for its time beside ours: one matplotlib subplot per tile."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n, size = int(np.ceil(np.sqrt(len(data_list)))), int(np.sqrt(data_list.shape[1]))
    plt.figure()
    for i, data in enumerate(data_list):
        plt.subplot(n, n, i + 1)
        plt.imshow(data.reshape(size, size), cmap='gray', interpolation='nearest')
        plt.axis('off')
    plt.savefig(filename)
    plt.close()


def peak_memory(dataset, n_train, epochs):
    out = subprocess.run([sys.executable, '-c', PEAK_SCRIPT.format(
        root=ROOT, dataset=dataset, n_train=n_train, epochs=epochs)],
        capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[1])


# ---------------------------------------------------------------- main

def training_rows(images, n):
    """n rows of images: real ones, or tiled when there are fewer; and which."""
    if len(images) >= n:
        return images[:n], 'real rows'
    return np.resize(images, (n, images.shape[1])), 'tiled'


PEERS = {'pytorch': 'PyTorch', 'jax_step': 'JAX, jitted step', 'jax_scan': 'JAX, jitted epoch'}
TEMPLATES = os.path.join(ROOT, 'benchmarks', 'templates')


def available_peers():
    """{key: its class and options} of the peers installed, and a line saying which."""
    found, said = {}, []
    try:
        import torch
        found['pytorch'] = (PyTorch, {})
        said.append(f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads')
    except ImportError:
        said.append('PyTorch skipped: torch not installed')
    try:
        import jax
        import optax
        found.update(jax_step=(JAX, {}), jax_scan=(JAX, {'scan': True}))
        said.append(f'JAX {jax.__version__} with optax {optax.__version__}, '
                    f'{jax.devices()[0].platform.upper()}')
    except ImportError:
        said.append('JAX skipped: jax or optax not installed (make bench-setup; JAX needs '
                    'Python 3.11 or newer)')
    return found, '; '.join(said)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=5, help='timed runs per row')
    p.add_argument('--n-train', type=int, default=52500,
                   help='training rows of (a) and (b): the original\'s 75%% of 70,000')
    p.add_argument('--n-train-deep', type=int, default=60000,
                   help='training rows of (c): MNIST\'s own training-set size')
    p.add_argument('--memory-epochs', type=int, default=20,
                   help='epochs of the run whose peak memory is measured (0: skip)')
    p.add_argument('--dataset', default='auto', choices=options.DATASETS)
    p.add_argument('--json', metavar='PATH', help='also write the results as JSON')
    p.add_argument('--markdown', metavar='PATH',
                   help='also write the table between the bench markers of this Markdown file '
                        '(docs/engineering.md)')
    args = p.parse_args(argv)
    for name in ('repeat', 'n_train', 'n_train_deep'):
        options.check_int(name, getattr(args, name))

    split = utils.load_mnist(dataset=args.dataset, seed=1)
    (x_train, x_test), _ = split
    train, rows = training_rows(x_train, args.n_train)
    deep_train, deep_rows = training_rows(np.concatenate([x_train, x_test]), args.n_train_deep)
    data = {'n_train': train, 'n_train_deep': deep_train}
    n_inputs = train.shape[1]
    peers, peer = available_peers()
    header = dict(data=f'{split.name}: {len(train)} training samples ({rows}: {len(x_train)} '
                       f'training images of {n_inputs} inputs), {len(x_test)} test images; '
                       f'(c): {len(deep_train)} samples ({deep_rows})',
                  **machine.describe(), date=time.strftime('%Y-%m-%d'), peer=peer)
    for key, value in header.items():
        print(f'{key}: {value}')

    # Training epochs and evaluation, ours and the others interleaved.
    impls = {'ours': (Ours, {}), 'numpy': (PlainNumPy, {}), **peers}
    def columns(x, case):  # all of them, or the middle ones of a tiny row
        middle = x.shape[1] // 2 - case.get('inputs', x.shape[1]) // 2
        return x[:, middle:middle + case['inputs']].copy() if 'inputs' in case else x
    models = {(row, name): cls(columns(data[case['rows']], case), columns(x_test, case), case,
                               **options)
              for row, case in CASES.items() for name, (cls, options) in impls.items()
              if name != 'numpy' or (len(case['sizes']) == 1 and 'inputs' not in case)}
    times = {key: [] for key in models}
    evaluated = [name for name in impls if name not in ('numpy', 'jax_scan')]  # jax_step's is
    eval_times = {name: [] for name in evaluated}  # the same function as jax_scan's
    first = next(iter(CASES))
    for (row, _), m in models.items():  # warm-up (and JAX's compilation)
        m.epoch(CASES[row]['batchsize'])
    for name in evaluated:
        models[first, name].evaluate()
    for _ in range(args.repeat):
        for (row, name), m in models.items():
            times[row, name].append(timed(lambda: m.epoch(CASES[row]['batchsize']), PAUSE))
        for name in evaluated:
            eval_times[name].append(timed(models[first, name].evaluate, PAUSE))

    results = []

    def result(what, ours, others=(), gflop=None, rate=None, products=(), **more):
        """A row: ours, each peer's median, the ratio to the fastest, the floor; `more` as is."""
        r = dict(row=what, median=statistics.median(ours), min=min(ours), max=max(ours), **more)
        for name, t in others:
            r[name] = statistics.median(t)
        peer_times = {name: t for name, t in others if name in PEERS}
        if peer_times:
            fastest = min(peer_times, key=lambda name: r[name])
            r.update(fastest=fastest, ratio=statistics.median(
                a / b for a, b in zip(ours, peer_times[fastest])))
        if gflop:
            r.update(floor=gflop / rate, over_floor=r['median'] / (gflop / rate), gflops=rate)
            r.update({f'{name}_products': gflop / rate for name, rate in products})
        results.append(r)

    for row, case in CASES.items():
        others = [(name, times[row, name]) for name in impls
                  if name != 'ours' and (row, name) in times]
        if 'inputs' in case:
            result(row, times[row, 'ours'], others)
            continue
        shapes, bs, n = layer_shapes(n_inputs, case['sizes']), case['batchsize'], len(data[case['rows']])
        gflop = step_flop(bs, shapes) * n / bs / 1e9
        result(row, times[row, 'ours'], others, gflop, matmul_rate(bs, shapes),
               [(peer, matmul_rate(bs, shapes, peer=peer)) for peer in ('pytorch', 'jax')
                if any(key.startswith(peer) for key in peers)])
    shapes = layer_shapes(n_inputs, CASES[first]['sizes'])
    eval_gflop = sum(2 * (len(train) + len(x_test)) * a * b for a, b in shapes) / 1e9
    result('evaluation of (a), train + test MSE', eval_times['ours'],
           [(name, t) for name, t in eval_times.items() if name != 'ours'],
           eval_gflop, matmul_rate(2500, shapes))

    # The rest: ours only.
    tiles = np.random.default_rng(0).random((784, 784))
    with tempfile.TemporaryDirectory() as tmp:
        drawn = {way: [] for way in (utils.save_images, original_save_images)}
        for _ in range(args.repeat):  # interleaved, as the epochs are
            for way, t in drawn.items():
                t.append(timed(lambda: way(tiles, os.path.join(tmp, 'w.png'))))
        result('save_images, 784 tiles of 28x28', drawn[utils.save_images],
               original=statistics.median(drawn[original_save_images]))
        x_all = np.resize(np.round(np.concatenate([x_train, x_test]) * 255).astype(np.uint8),
                          (70000, n_inputs))
        utils.write_cache(os.path.join(tmp, 'mnist_784.npz'), x_all, np.zeros(70000, np.uint8))
        saved = os.environ.pop('MNIST_DIR', None)
        try:
            result('MNIST load from the .npz cache (70,000)',
                   [timed(lambda: utils.load_mnist(dataset='mnist', cache_dir=tmp)) for _ in range(args.repeat)])
        finally:
            if saved is not None:
                os.environ['MNIST_DIR'] = saved
    dae = da.Train_DAE([train, x_test], da.DAE(n_inputs, (100, 25), activate='sigmoid',
                                               dropout_ratio=.1),
                       corruption_ratio=.3, optimizer='Adam', rng=1)
    result('deep autoencoder (100, 25), pretraining epoch',
           [timed(lambda: dae.pre_training(1, 100, log=None)) for _ in range(max(1, args.repeat // 2))])

    printed = [('median', 'ours'), *[(k, PEERS[k].replace('JAX, jitted ', 'JAX ')) for k in
                                      PEERS if k in peers], ('ratio', 'ours/fastest'),
               ('numpy', 'NumPy'), ('floor', 'floor'), ('over_floor', 'x floor')]
    print(f'{"row":58s} ' + ' '.join(f'{title:>12s}' for _, title in printed))
    for r in results:
        print(f'{r["row"]:58s} ' + ' '.join(f'{r[key]:12.3f}' if key in r else f'{"-":>12s}'
                                            for key, _ in printed))
    print('floor: matrix-product work / NumPy matmul rate on the same shapes here ('
          + ', '.join(f'{r["gflops"]:.0f}' for r in results if 'gflops' in r) + ' GFLOP/s)')
    memory = None
    if args.memory_epochs:
        peak, data_bytes = peak_memory(split.name, len(train), args.memory_epochs)
        memory = dict(peak_bytes=peak, data_bytes=data_bytes, epochs=args.memory_epochs,
                      budget_bytes=2 * data_bytes + 400 * 2**20)
        print(f'\npeak resident memory of a {args.memory_epochs}-epoch run of (a): '
              f'{peak / 2**20:.0f} MiB (data {data_bytes / 2**20:.0f} MiB; budget 2 x data + '
              f'400 MiB = {memory["budget_bytes"] / 2**20:.0f} MiB)')
    command = ' '.join(['python benchmarks/bench.py', *(sys.argv[1:] if argv is None else argv)])
    numbers = dict(header, command=command, repeat=args.repeat, rows=results, memory=memory,
                   peer_names=PEERS, peer_order=list(PEERS),
                   peers_used=[k for k in PEERS if any(k in r for r in results)])
    if args.json:
        write_json(args.json, numbers)
    if args.markdown:  # the table, and its numbers beside the file (bench.json)
        report.write_block(args.markdown, 'bench', numbers, TEMPLATES)


if __name__ == '__main__':
    main()
