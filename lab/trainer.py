"""What every trainer of the research scripts shares, kept out of their way.

A script's trainer subclasses Trainer and writes its own mathematics (the noise, the loss) and
its own loop (train_epoch, start); Trainer holds the rest: where the model and the data live
(a device, MPI processes), the optimizer with its learning-rate schedule, momentum ceiling and
weight decay, the eval-mode loss of a whole set, training up to an epoch count (train_to), and
the snapshot protocol (lab.snapshots).
"""
import math
import time

import chainer
import numpy as np

from lab import devices, snapshots
from lab.options import (ConfigError, check_data, check_int, check_lr_decay, check_momentum_max,
                         check_weight_decay, get_optimizer, learning_rate_name, make_rng)


EVALUATION_BATCH = 2500  # images a loss of a whole set is computed on at once


def bytes_needed(params, widths, batchsize, held=0):
    """An estimate of the memory a run takes beside its data, in bytes of float32 values: each
    of its `params` parameters four times (the value, its gradient, an optimizer's two moments),
    its largest batch (a minibatch of `batchsize` or an evaluation batch) through every layer,
    `widths` the values an image has at each, three times (values, gradients, a temporary), and
    `held` values it keeps besides (a deep autoencoder's codes to pretrain its next layer on)."""
    return 4 * (4 * params + 3 * max(batchsize, EVALUATION_BATCH) * sum(widths) + held)


class Diverged(ArithmeticError):
    """A loss that is not finite, in `words`; where known, `what` (the training loss, the train
    or test MSE) was `value` in epoch `epoch` of `trainer`, at minibatch `minibatch` (None: in
    the evaluation after it)."""

    def __init__(self, words, trainer=None, what=None, value=None, epoch=None, minibatch=None):
        super().__init__(words)
        self.trainer, self.what, self.value = trainer, what, value
        self.epoch, self.minibatch = epoch, minibatch


class Trainer:
    """tt_data = [train, test]; `model` a Chain with n_inputs and its own generator (rng).
    `rng` (a seed or a NumPy Generator) is the trainer's generator. `device` (default: the
    model's) is where the model and the data are put, once; it is made the current device.
    `comm`, a ChainerMN communicator: this is one of comm.size processes, each holding its
    share of the data; gradients are averaged across them every step, the losses are those of
    all the shares together, and a minibatch size is the global one. `optimizer`: a class, an
    instance or a name (lab.options.get_optimizer); its learning rate is multiplied by
    `lr_decay` after every epoch; `weight_decay` adds weight_decay * p to the gradient of every
    parameter p; `momentum_max`: see the script's set_momentum."""

    def __init__(self, tt_data, model, rng, optimizer, device=None, comm=None, lr_decay=1.,
                 weight_decay=0., momentum_max=None):
        if len(tt_data) != 2:
            raise ConfigError(f'tt_data must be a [train, test] pair, got {len(tt_data)} items')
        self.model = model
        self.device = model.device if device is None else devices.get_device(device)
        self.device.use()
        model.to_device(self.device)
        self.train, self.test = (self.device.send(check_data(f'{name} data', x, model.n_inputs))
                                 for name, x in zip(('train', 'test'), tt_data))
        self.rng = make_rng('rng', rng)
        self.comm = comm
        self.optimizer = get_optimizer(optimizer)
        self.lr_decay = check_lr_decay(lr_decay, self.optimizer)
        self.momentum_max = check_momentum_max(momentum_max, self.optimizer)
        self.lr_name = learning_rate_name(self.optimizer)
        self.base_lr = self.lr_name and getattr(self.optimizer.hyperparam, self.lr_name)
        if comm is not None:  # one model, data-parallel: own noise, dropout and shuffles
            devices.split_stream(self.rng, comm.rank)
            devices.split_stream(model.rng, comm.rank)
            self.optimizer = devices.multi_node(self.optimizer, comm)
        self.optimizer.setup(model)
        self.weight_decay = check_weight_decay('weight_decay', weight_decay)
        if self.weight_decay:  # rate * W added to every parameter's gradient before the update
            self.inner_optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(self.weight_decay))
        self.epoch = 0  # epochs trained so far
        self.loss_values, self.test_loss_values, self.seconds = [], [], []
        self.order, self.position = None, 0  # the current epoch's shuffle, the next minibatch

    @property
    def inner_optimizer(self):
        """The optimizer itself (under MPI, self.optimizer is ChainerMN's wrapper of it)."""
        return getattr(self.optimizer, 'actual_optimizer', self.optimizer)

    def set_learning_rate(self):
        """base_lr * lr_decay ** epochs done (also right after a resume)."""
        if self.lr_decay != 1:
            setattr(self.inner_optimizer.hyperparam, self.lr_name,
                    self.base_lr * self.lr_decay ** self.epoch)

    def mean(self, x, total, batchsize=EVALUATION_BATCH):
        """The mean over the whole set x of what `total` sums: total(batch) -> (its sum, how
        many values it counts), batch by batch, in eval mode, without a graph; with a
        communicator, of every process's share of the data together."""
        sums, count = 0.0, 0
        with chainer.using_config('train', False), chainer.no_backprop_mode():
            for i in range(0, len(x), batchsize):
                batch_sum, batch_count = total(x[i:i + batchsize])
                sums, count = sums + batch_sum, count + batch_count
        if self.comm is not None:
            sums, count = self.comm.allreduce_obj(np.array([sums, count]))
        return float(sums / count)

    def evaluate(self, x, batchsize=EVALUATION_BATCH):
        """Mean squared reconstruction error per value of the set x (mean).

        Batches of 2,500 stay in cache; NumPy's pairwise float32 sum is accurate and, unlike a
        BLAS dot, gives the same bits whatever the number of threads."""
        def squares(batch):
            diff = self.model(batch).array - batch
            return float(self.device.xp.square(diff, out=diff).sum()), batch.size
        return self.mean(x, squares, batchsize)

    def finite(self, value, what, minibatch=None):
        """`value` (a loss: a Variable or a number), or Diverged if it is not finite. Training
        stops at the first minibatch whose loss is not finite, before its update, or after the
        epoch whose evaluated loss is not: NaN and infinity spread to every weight and stay."""
        number = float(getattr(value, 'array', value))
        if not math.isfinite(number):
            epoch = self.epoch + bool(minibatch)
            raise Diverged(f'the {what} is {number} in epoch {epoch}' + (
                f', minibatch {minibatch}' if minibatch else ', after its last minibatch'),
                self, what, number, epoch, minibatch)
        return value

    def measure(self, t0):
        """After an epoch begun at time.perf_counter() `t0`: the eval-mode MSE of the train and
        test sets appended to their histories (Diverged if one is not finite), and the epoch's
        seconds; the words the epoch's line says of them. A trainer may measure more first."""
        self.loss_values.append(self.finite(self.evaluate(self.train), 'train MSE'))
        self.test_loss_values.append(self.finite(self.evaluate(self.test), 'test MSE'))
        self.seconds.append(time.perf_counter() - t0)
        return (f'train {self.loss_values[-1]:.5f}  test {self.test_loss_values[-1]:.5f}  '
                f'({self.seconds[-1]:.2f} s)')

    def history(self):
        """{column: a value an epoch}, what log.json holds of each epoch: the train and test
        MSE and the seconds; a trainer that measures more adds its columns."""
        return dict(train=self.loss_values, test=self.test_loss_values, seconds=self.seconds)

    def train_to(self, epoch, batchsize=100, log=print, after_epoch=None):
        """Train until `epoch` epochs in all are done: `epoch` on a new trainer, the rest on one
        resumed from a snapshot. The one place where a resume is counted."""
        check_int('epoch', epoch)
        if epoch > self.epoch:
            self.start(epoch - self.epoch, batchsize, log=log, after_epoch=after_epoch)
        return self.loss_values

    def phases(self):
        """{phase: its trainer} in order, for the log and the loss curves: this one alone."""
        return {'': self}

    def record(self):
        """What run.json holds of the training: its losses and seconds after every epoch."""
        return dict(loss_values=self.loss_values, test_loss_values=self.test_loss_values,
                    seconds_per_epoch=self.seconds)

    def serialize(self, serializer):
        """Chainer's serializer protocol (save_npz / load_npz): everything needed to go on."""
        snapshots.serialize(self, serializer)
