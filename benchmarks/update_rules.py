"""One optimizer step over a model's parameters: Chainer's rule, ours (numba), numexpr, PyTorch.

    .venv/bin/python benchmarks/update_rules.py        # numexpr and torch optional

Why lab/kernels.py compiles its update loops with numba: the same update written three ways and
timed on the parameters of (a) the __main__ autoencoder (AdaDelta, 157,000 parameters in 4
arrays) and (c) the Hinton-sized network (Adam, 2.8 million in 16 arrays), interleaved,
median of --repeat rounds of 20 steps, in milliseconds a step:
  chainer  Chainer's own CPU update rule (a dozen NumPy passes with temporaries)
  numba    lab/kernels.py: one compiled loop per array (through Chainer's optimizer)
  numexpr  the same loop as numexpr expressions evaluated in place, 3 or 4 per array
  pytorch  torch.optim's own step on as many parameters (the peer of make bench)
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
from chainer import optimizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from lab import kernels  # noqa: E402

MODELS = {  # name: (optimizer, the shapes of its parameters)
    '(a) 784-100, AdaDelta': ('AdaDelta', [(100, 784), (100,), (784, 100), (784,)]),
    '(c) 784-1000-500-250-30, Adam': ('Adam', [
        shape for n_in, n_out in [(784, 1000), (1000, 500), (500, 250), (250, 30), (30, 250),
                                  (250, 500), (500, 1000), (1000, 784)]
        for shape in ((n_out, n_in), (n_out,))]),
}


def chainer_step(cls, shapes):
    import chainer
    link = chainer.Chain()
    rng = np.random.default_rng(0)
    with link.init_scope():
        for i, shape in enumerate(shapes):
            setattr(link, f'p{i}', chainer.Parameter(rng.standard_normal(shape).astype(np.float32)))
    optimizer = cls()
    optimizer.setup(link)
    for p in link.params():
        p.grad = rng.standard_normal(p.shape).astype(np.float32) * np.float32(1e-3)
    return optimizer.update


def numexpr_step(name, shapes):
    import numexpr as ne
    rng = np.random.default_rng(0)
    arrays = [[rng.standard_normal(s).astype(np.float32) for _ in range(4)] for s in shapes]
    t = [0]

    def adadelta():
        for p, g, msg, msdx in arrays:
            ne.evaluate('msg * 0.95 + 0.05 * g * g', out=msg)
            dx = ne.evaluate('sqrt((msdx + 1e-6) / (msg + 1e-6)) * g')
            ne.evaluate('msdx * 0.95 + 0.05 * dx * dx', dict(msdx=msdx, dx=dx), out=msdx)
            ne.evaluate('p - dx', dict(p=p, dx=dx), out=p)

    def adam():
        t[0] += 1
        lr = np.float32(1e-3 * np.sqrt(1 - .999 ** t[0]) / (1 - .9 ** t[0]))
        for p, g, m, v in arrays:
            ne.evaluate('m + 0.1 * (g - m)', out=m)
            ne.evaluate('v + 0.001 * (g * g - v)', out=v)
            ne.evaluate('p - lr * m / (sqrt(v) + 1e-8)', dict(p=p, lr=lr, m=m, v=v), out=p)
    return adadelta if name == 'AdaDelta' else adam


def torch_step(name, shapes):
    import torch
    params = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape) * 1e-3
    if name == 'AdaDelta':
        return torch.optim.Adadelta(params, lr=1.0, rho=.95, eps=1e-6).step
    return torch.optim.Adam(params, lr=1e-3).step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=7)
    args = p.parse_args(argv)
    for model, (name, shapes) in MODELS.items():
        steps = {'chainer': chainer_step(getattr(optimizers, name), shapes),
                 'numba': chainer_step(getattr(kernels, name), shapes)}
        for label, make in (('numexpr', numexpr_step), ('pytorch', torch_step)):
            try:
                steps[label] = make(name, shapes)
            except ImportError:
                pass
        times = {label: [] for label in steps}
        for step in steps.values():
            step()  # warm-up (and numba's compilation or cache load)
        for _ in range(args.repeat):
            for label, step in steps.items():
                t0 = time.perf_counter()
                for _ in range(20):
                    step()
                times[label].append((time.perf_counter() - t0) / 20 * 1e3)
        size = sum(int(np.prod(s)) for s in shapes)
        print(f'{model} ({size:,} parameters in {len(shapes)} arrays), ms a step: '
              + ', '.join(f'{label} {statistics.median(t):.3f}' for label, t in times.items()))


if __name__ == '__main__':
    main()
