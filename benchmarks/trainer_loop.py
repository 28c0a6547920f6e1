"""Should chainer.training carry the loop? Our loop against Chainer's Trainer, per step.

    MNIST_DIR=../shared/data/mnist .venv/bin/python benchmarks/trainer_loop.py

The __main__ model (784 -> 100, relu, dropout .10, noise .30, AdaDelta, batch 100) trained
for one epoch, interleaved repeat by repeat:
  ours     Train_AutoEncoder.train_epoch: one gather of the shuffled rows per minibatch;
           with evaluation: start(1), train and test MSE in eval mode, and a snapshot
  trainer  chainer.training.Trainer with a StandardUpdater over a SerialIterator of the same
           rows (the masking noise in the loss function), no extensions: the cheapest setup
  trainer + extensions  the same with LogReport, the train/test Evaluator (eval mode) and a
           snapshot every epoch, i.e. what would replace our logging, evaluation and snapshots
Each timed epoch builds its model and trainer anew (a Trainer runs only once). Median
seconds of --repeat epochs.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import chainer
from chainer import training
from chainer.training import extensions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import autoencoder as ae  # noqa: E402
import utils  # noqa: E402
from lab import kernels, options, snapshots  # noqa: E402


class Loss(chainer.Chain):
    """The denoising loss as a Chain, as a Trainer wants it; reported for LogReport."""

    def __init__(self, model, trainer):
        super().__init__()
        with self.init_scope():
            self.model = model
        self.corrupt = trainer.corrupt

    def forward(self, x):
        x_noisy = self.corrupt(x) if chainer.config.train else x
        loss = kernels.mean_squared_error(self.model(x_noisy), x)  # as our trainer computes it
        chainer.report({'loss': loss}, self.model)  # the optimizer's target: 'main'
        return loss


def chainer_trainer(train, test, out, with_extensions):
    """A new Trainer, run for one epoch (a Trainer runs once)."""
    model = ae.AutoEncoder(train.shape[1], 100, dropout_ratio=.1, activate='relu', seed=1)
    ours = ae.Train_AutoEncoder([train, test], model, corruption_ratio=.3, rng=1,
                                optimizer='AdaDelta')
    loss = Loss(model, ours)
    iterator = chainer.iterators.SerialIterator(train, 100, shuffle=True)
    updater = training.updaters.StandardUpdater(iterator, ours.optimizer, loss_func=loss)
    trainer = training.Trainer(updater, (1, 'epoch'), out=out)
    if with_extensions:
        for name, x in (('train', train), ('test', test)):
            trainer.extend(extensions.Evaluator(
                chainer.iterators.SerialIterator(x, 2500, repeat=False, shuffle=False), loss),
                name=name)
        trainer.extend(extensions.LogReport())
        trainer.extend(extensions.snapshot(filename='snapshot'), trigger=(1, 'epoch'))
    trainer.run()


def ours(train, test, out, with_evaluation):
    """A new Train_AutoEncoder, one epoch; with evaluation and a snapshot, as run() does."""
    model = ae.AutoEncoder(train.shape[1], 100, dropout_ratio=.1, activate='relu', seed=1)
    trainer = ae.Train_AutoEncoder([train, test], model, corruption_ratio=.3, rng=1,
                                   optimizer='AdaDelta')
    if not with_evaluation:
        return trainer.train_epoch(100)
    trainer.start(1, 100, log=None, after_epoch=lambda: snapshots.save(
        trainer, os.path.join(out, 'snapshot.npz'), {}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--n-train', type=int, default=20000, help='training rows used')
    p.add_argument('--dataset', default='auto', choices=options.DATASETS)
    args = p.parse_args(argv)
    (x_train, x_test), _ = utils.load_mnist(dataset=args.dataset, seed=1)
    train, test = x_train[:args.n_train], x_test
    with tempfile.TemporaryDirectory() as out:
        cases = {'ours, training only': lambda: ours(train, test, out, False),
                 'Trainer, training only': lambda: chainer_trainer(train, test, out, False),
                 'ours, with evaluation and snapshot': lambda: ours(train, test, out, True),
                 'Trainer, with Evaluator, LogReport, snapshot':
                     lambda: chainer_trainer(train, test, out, True)}
        for run in cases.values():  # warm-up
            run()
        times = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, run in cases.items():
                t0 = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t0)
    steps = -(-len(train) // 100)
    print(f'{len(train)} training rows, {len(test)} test rows, batch 100 ({steps} steps); '
          f'median of {args.repeat} epochs')
    for name, t in times.items():
        median = statistics.median(t)
        print(f'{name:48s} {median:7.3f} s  {1000 * median / steps:6.3f} ms/step')


if __name__ == '__main__':
    main()
