"""Training speed of autoencoder.py's __main__ model: `make bench` (a command, not a test).

Seconds per epoch of Train_AutoEncoder on 52,500 samples (the original's training-set
size: 75% of MNIST's 70,000), the available MNIST images tiled to that size, and the
time of the per-epoch train+test evaluation. Median, min and max of --repeat epochs.
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import autoencoder as ae  # noqa: E402
import utils  # noqa: E402

N_TRAIN = 52500


def seconds(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=3, help='timed epochs per row')
    p.add_argument('--n-train', type=int, default=N_TRAIN, help='training samples')
    p.add_argument('--dataset', default='auto', choices=utils.DATASETS)
    args = p.parse_args(argv)
    data, _ = split = utils.load_mnist(dataset=args.dataset, seed=1)
    train = np.resize(data[0], (args.n_train, data[0].shape[1]))
    print(f'data: {split.name}, {len(data[0])} training images tiled to {len(train)}; '
          f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores')
    print(f'{"row":40s} {"median s":>9s} {"min":>7s} {"max":>7s}')
    for activate, batchsize in (('relu', 100), ('sigmoid', 100), ('relu', 1000)):
        model = ae.AutoEncoder(train.shape[1], 100, .1, activate, seed=1)
        trainer = ae.Train_AutoEncoder([train, data[1]], model, .3, rng=1, optimizer='AdaDelta')
        trainer.train_epoch(batchsize)  # warm-up
        rows = {f'epoch, {activate}, batch {batchsize}': seconds(lambda: trainer.train_epoch(batchsize), args.repeat)}
        if batchsize == 100 and activate == 'relu':
            rows['evaluation, train + test'] = seconds(
                lambda: (trainer.evaluate(trainer.train), trainer.evaluate(trainer.test)), args.repeat)
        for name, t in rows.items():
            print(f'{name:40s} {statistics.median(t):9.3f} {min(t):7.3f} {max(t):7.3f}')


if __name__ == '__main__':
    main()
