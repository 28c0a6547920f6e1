"""What each fused kernel buys: a training epoch with it and without it (a command, not a test).

    MNIST_DIR=~/data/mnist python benchmarks/kernel_onoff.py --repeat 5

A kernel that buys less than 3% of an epoch on every row goes (lab/kernels.py keeps the ones
that stayed; the first run of this command, at the commit that added it, also measured the
sigmoid cross-entropy, masking-noise and dropout-mask kernels, which went: docs/engineering.md).

Each row is one training epoch of a model the project trains (make bench's rows, the Hinton
network with each loss and optimizer its recipes use, and search.py's optimizers), timed with
every kernel on and with each kernel that applies to it switched off (Chainer's own function
or update rule in its place), interleaved repeat by repeat, median of --repeat. A kernel
'buys' (off - on) / off of an epoch: the share of the epoch without it that it removes.
"""
import argparse
import contextlib
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import lab.compat  # noqa: E402,F401
import chainer.functions as F  # noqa: E402

import autoencoder as ae  # noqa: E402
import conv_autoencoder as cae  # noqa: E402
import deep_autoencoder as da  # noqa: E402
import utils  # noqa: E402
from lab import convolution, kernels, machine, report  # noqa: E402
from lab.options import get_optimizer  # noqa: E402

TEMPLATES = os.path.join(ROOT, 'benchmarks', 'templates')
HINTON = dict(sizes=(1000, 500, 250, 30), activate='sigmoid', rows=60000, batchsize=100)
ROWS = {  # row: the model and its training
    '(a) 784-100 relu, AdaDelta, batch 100, noise .3, dropout .1 (make run)': dict(
        sizes=(100,), activate='relu', optimizer='AdaDelta', batchsize=100, noise=.3, dropout=.1,
        rows=52500),
    '(b) the same at batch 1000': dict(
        sizes=(100,), activate='relu', optimizer='AdaDelta', batchsize=1000, noise=.3,
        dropout=.1, rows=52500),
    '(g) 784-100 sigmoid, Adam, batch 100, noise .3, dropout .1 (the grid)': dict(
        sizes=(100,), activate='sigmoid', optimizer='Adam', batchsize=100, noise=.3, dropout=.1,
        rows=52500),
    '(f) 784-100 sigmoid, MomentumSGD lr .1, noise .3, dropout .3 (search.py)': dict(
        sizes=(100,), activate='sigmoid', optimizer='MomentumSGD', lr=.1, batchsize=100,
        noise=.3, dropout=.3, rows=52500),
    '(c) Hinton-size, sigmoid, Adam, MSE (make bench)': dict(HINTON, optimizer='Adam'),
    '(d) Hinton recipe: linear code, cross-entropy, Adam, weight decay 3e-7': dict(
        HINTON, optimizer='Adam', lr=1e-3, code='identity', loss='bce', weight_decay=3e-7),
    '(e) Sutskever recipe: sparse init, NesterovAG to .99, lr 10, batch 200, cross-entropy': dict(
        HINTON, optimizer='NesterovAG', lr=10., code='identity', loss='bce', init='sparse',
        momentum_max=.99, batchsize=200),
    '(h) conv_autoencoder.py: channels 16, 32, code 100, relu, Adam, noise .3, dropout .1': dict(
        sizes=(100,), channels=(16, 32), activate='relu', optimizer='Adam', batchsize=100,
        noise=.3, dropout=.1, rows=52500),
}


def stock(name):
    """Chainer's own update rule for optimizer `name` in place of the fused one."""
    twin = getattr(kernels, name)
    stock_class = twin.__bases__[0]
    return lambda: kernels.FUSED.pop(stock_class)


def patch(module_attrs):
    return lambda: [setattr(m, a, v) for m, a, v in module_attrs]


KERNELS = {  # kernel: (does it apply to a row, switch it off)
    'AdaDelta update': (lambda c: c['optimizer'] == 'AdaDelta', stock('AdaDelta')),
    'Adam update': (lambda c: c['optimizer'] == 'Adam', stock('Adam')),
    'MomentumSGD update': (lambda c: c['optimizer'] == 'MomentumSGD', stock('MomentumSGD')),
    'NesterovAG update': (lambda c: c['optimizer'] == 'NesterovAG', stock('NesterovAG')),
    'linear + activation': (lambda c: True, lambda: kernels.ACTIVATIONS.clear()),
    'mean squared error': (lambda c: c.get('loss', 'mse') == 'mse', patch(
        [(ae, 'mean_squared_error', F.mean_squared_error)])),
    'convolutions (lab/convolution.py)': (lambda c: 'channels' in c,
                                          patch([(convolution, 'enabled', False)])),
}


@contextlib.contextmanager
def off(kernel):
    """Within: `kernel` switched off (everything it touched put back after)."""
    saved = (dict(kernels.FUSED), dict(kernels.ACTIVATIONS),
             {a: getattr(ae, a) for a in ('mean_squared_error',)}, convolution.enabled)
    if kernel:
        KERNELS[kernel][1]()
    try:
        yield
    finally:
        kernels.FUSED.clear()
        kernels.FUSED.update(saved[0])
        kernels.ACTIVATIONS.clear()
        kernels.ACTIVATIONS.update(saved[1])
        for a, v in saved[2].items():
            setattr(ae, a, v)
        convolution.enabled = saved[3]


def trainer(case, train, test):
    """A new model and trainer for the row (built with the kernels as they are now)."""
    n = train.shape[1]
    if 'channels' in case:
        model = cae.ConvAutoEncoder(n, case['sizes'][0], case['channels'], seed=1,
                                    dropout_ratio=case['dropout'], activate=case['activate'])
    elif len(case['sizes']) == 1:
        model = ae.AutoEncoder(n, case['sizes'][0], dropout_ratio=case.get('dropout', 0),
                               activate=case['activate'], seed=1)
    else:
        model = da.DAE(n, case['sizes'], activate=case['activate'],
                       dropout_ratio=case.get('dropout', 0), seed=1,
                       code_activate=case.get('code'), init=case.get('init', 'lecun'),
                       output_activate='sigmoid' if case.get('loss') == 'bce' else None)
    return ae.Train_AutoEncoder(
        [train[:case['rows']], test], model, corruption_ratio=case.get('noise', 0), rng=1,
        optimizer=get_optimizer(case['optimizer'], case.get('lr')),
        loss=case.get('loss', 'mse'), weight_decay=case.get('weight_decay', 0.),
        momentum_max=case.get('momentum_max'))


def epoch_seconds(case, kernel, train, test):
    with off(kernel):
        t = trainer(case, train, test)
        time.sleep(.5)
        t0 = time.perf_counter()
        t.train_epoch(case['batchsize'])
        return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--rows', nargs='*', help='letters of the rows to time (default: all)')
    p.add_argument('--markdown', metavar='PATH',
                   help='also write the table between the kernels markers of this Markdown file '
                        '(docs/engineering.md), and its numbers as JSON beside it')
    args = p.parse_args(argv)
    (x_train, x_test), _ = utils.load_mnist(dataset='mnist', split='official')
    rows = {k: v for k, v in ROWS.items() if not args.rows or k[1] in args.rows}
    plan = [(row, kernel) for row, case in rows.items()
            for kernel in [None, *(k for k, (applies, _) in KERNELS.items() if applies(case))]]
    for row, kernel in plan:  # warm-up: numba's compilation, caches
        if kernel is None:
            epoch_seconds(dict(rows[row], rows=2000), None, x_train, x_test[:100])
    times = {key: [] for key in plan}
    for i in range(args.repeat):
        for row, kernel in plan:
            times[row, kernel].append(epoch_seconds(rows[row], kernel, x_train, x_test[:100]))
        print(f'repeat {i + 1} of {args.repeat} done', flush=True)
    rows = [dict(row=row, kernel=kernel, on=statistics.median(times[row, None]),
                 off=statistics.median(times[row, kernel])) for row, kernel in plan if kernel]
    numbers = dict(command=' '.join(['python benchmarks/kernel_onoff.py', *(argv or sys.argv[1:])]),
                   **machine.describe(), date=time.strftime('%Y-%m-%d'), repeat=args.repeat,
                   rows=[dict(r, buys=(r['off'] - r['on']) / r['off']) for r in rows])
    print(report.render('kernels.md.j2', TEMPLATES, **numbers))
    if args.markdown:
        report.write_block(args.markdown, 'kernels', numbers, TEMPLATES)


if __name__ == '__main__':
    main()
