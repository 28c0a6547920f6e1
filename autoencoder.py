"""A denoising autoencoder in Chainer 7, after Nyker510/Chainer's autoencoder.py (2016).

For an input x in [0, 1]^n (a flattened image):

    x~ = corrupt(x)              masking noise: each x_i set to 0 with probability p
    h  = dropout(f(W1 x~ + b1))  encode: the hidden code, n_hidden values
    y  = f(W2 h + b2)            decode: the reconstruction
    L  = mean_i (x_i - y_i)^2    trained to rebuild the *clean* x
                                 (loss='bce': y = sigmoid(W2 h + b2) and
                                  L = -mean_i [x_i log y_i + (1 - x_i) log(1 - y_i)])

Without noise, with f the identity, no biases and W2 = W1^T, minimising L is what
PCA does: a linear autoencoder learns the principal subspace. Biases, a
non-linear f and the noise make it "PCA with a more expressive function".
Denoising autoencoders: Vincent, Larochelle, Bengio, Manzagol, ICML 2008.

The rows of W1 (encoder.W, shape (n_hidden, n)) are the learned filters; the
script tiles them, and the columns of W2, into pictures.
"""
import argparse
import copy
import json
import math
import sys
import time

import chainer_compat  # noqa: F401  (before Chainer: what it needs of NumPy 2, Python 3.12+)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers, optimizers

import runner
import utils
from kernels import (fused, keep, keep_mask, linear_activation, mean_squared_error,
                     sigmoid_cross_entropy)
from utils import ConfigError

ACTIVATIONS = {f.__name__: f for f in (F.sigmoid, F.relu, F.tanh, F.identity)}
OPTIMIZERS = {name: cls for name, cls in vars(optimizers).items()
              if isinstance(cls, type) and issubclass(cls, chainer.Optimizer)}
LOSSES = ('mse', 'bce')  # the training loss; the reported one is always the MSE


class AutoEncoder(chainer.Chain):
    """One hidden layer: encoder = Linear(n_inputs, n_hidden), decoder = Linear(n_hidden, n_inputs).

    tied=True: no decoder weight of its own; the decoder is encoder.W^T with its own bias
    (decoder_bias). `seed` fixes the initial weights and the dropout masks (a local generator).
    `activate` is f of both layers; code_activate (the hidden layer's) and output_activate
    (the reconstruction's), default `activate`, set them one by one."""

    def __init__(self, n_inputs=784, n_hidden=100, dropout_ratio=.5, activate=F.sigmoid,
                 tied=False, seed=0, code_activate=None, output_activate=None):
        super().__init__()
        self.n_inputs = utils.check_int('n_inputs', n_inputs)
        self.n_hidden = utils.check_int('n_hidden', n_hidden)
        self.dropout_ratio = utils.check_ratio('dropout_ratio', dropout_ratio)
        self.activate = get_activation(activate)
        self.code_activate = get_activation(code_activate or activate, 'code_activate')
        self.output_activate = get_activation(output_activate or activate, 'output_activate')
        self.tied = bool(tied)
        self.rng = utils.make_rng('seed', seed)
        with self.init_scope():
            self.encoder = L.Linear(n_inputs, n_hidden, initialW=initializers.LeCunNormal(rng=self.rng))
            if self.tied:
                self.decoder_bias = chainer.Parameter(np.zeros(n_inputs, np.float32))
            else:
                self.decoder = L.Linear(n_hidden, n_inputs,
                                        initialW=initializers.LeCunNormal(rng=self.rng))

    def encode(self, x):  # linear_activation(x, link, f) is f(link(x)), fused (kernels.py)
        return dropout(linear_activation(x, self.encoder, self.code_activate),
                       self.dropout_ratio, self.rng)

    def decode(self, h, logits=False):
        """The reconstruction; logits=True: before the output activation."""
        f = F.identity if logits else self.output_activate
        if self.tied:
            return f(F.linear(h, F.transpose(self.encoder.W), self.decoder_bias))
        return linear_activation(h, self.decoder, f)

    def forward(self, x, hidden=False, logits=False):
        h = self.encode(x)
        return h if hidden else self.decode(h, logits)

    def to_string(self):
        return (f'drop={percent(self.dropout_ratio)}activate={self.activate.__name__}'
                f'_nhidden={self.n_hidden}' + ('_tied' if self.tied else '')
                + activations_to_string(self))

    def weight_pictures(self):
        """{file suffix: rows to tile}: the filters (rows of W1) and the columns of W2."""
        return {'enc.png': self.encoder.W.array, 'dec.png': self.copy_decoder().W.array.T}

    def copy_encoder(self):
        """A new Linear link holding copies of the trained encoder weights and bias."""
        return self.encoder.copy(mode='copy')

    def copy_decoder(self):
        """A new Linear link holding copies of the decoder weights (encoder.W^T when tied)."""
        if self.tied:
            link = L.Linear(self.n_hidden, self.n_inputs,
                            initialW=runner.HOST.send(self.encoder.W.array).T.copy(),
                            initial_bias=runner.HOST.send(self.decoder_bias.array).copy())
            return link.to_device(self.device)
        return self.decoder.copy(mode='copy')


class Train_AutoEncoder:
    """Trains `model` to rebuild clean inputs from masked ones; tt_data = [train, test].

    It minimises `loss`: 'mse' (the original's), or 'bce', the cross-entropy of the model's
    sigmoid output (what Hinton & Salakhutdinov fine-tuned with). Whatever the loss, after
    every epoch the reconstruction MSE of the whole train and test sets is measured in eval
    mode (no noise, no dropout) into loss_values / test_loss_values. The learning rate is
    multiplied by `lr_decay` after every epoch. `weight_decay` adds weight_decay * p to the
    gradient of every parameter p (an L2 cost weight_decay / 2 * |p|^2 beside the loss, which
    is a mean over the pixels: a cost on their sum is this one times the number of pixels).
    `momentum_max` (optimizers with a momentum: MomentumSGD, NesterovAG) raises the momentum
    update by update as Sutskever, Martens, Dahl & Hinton (ICML 2013) did:
    min(1 - 2 ** (-1 - log2(floor(t / 250) + 1)), momentum_max) at update t.
    `rng` is a seed or a numpy Generator: it draws the shuffles and the masking noise.
    The whole state (model, optimizer, generators, histories, place in the current
    epoch) goes through Chainer's serializers, so save_npz / load_npz of a trainer is a
    snapshot from which training continues exactly as if never stopped.

    `device` (default: the model's) is where the model and the data are put, once; it is
    made the current device.
    `comm`, a ChainerMN communicator: this is one of comm.size processes, each holding its
    share of the data; gradients are averaged across them every step
    (chainermn.create_multi_node_optimizer), the losses are those of all the shares together,
    and `batchsize` is the global one (each process takes batchsize / comm.size).
    """

    def __init__(self, tt_data, model, corruption_ratio=.1, rng=1, optimizer=optimizers.Adam,
                 device=None, comm=None, loss='mse', lr_decay=1., weight_decay=0.,
                 momentum_max=None):
        self.loss = utils.check_choice('loss', loss, LOSSES)
        if loss == 'bce' and model.output_activate is not F.sigmoid:
            raise ConfigError(f"loss='bce' is the cross-entropy of a sigmoid output; this "
                              f"model's output activation is {model.output_activate.__name__}")
        if len(tt_data) != 2:
            raise ConfigError(f'tt_data must be a [train, test] pair, got {len(tt_data)} items')
        self.model = model
        self.device = model.device if device is None else runner.get_device(device)
        self.device.use()
        model.to_device(self.device)
        self.train, self.test = (
            self.device.send(utils.check_data(f'{name} data', x, model.n_inputs))
            for name, x in zip(('train', 'test'), tt_data))
        self.corruption_ratio = utils.check_ratio('corruption_ratio', corruption_ratio)
        self.rng = utils.make_rng('rng', rng)
        self.comm = comm
        self.optimizer = get_optimizer(optimizer)
        self.lr_decay = check_lr_decay(lr_decay, self.optimizer)
        self.momentum_max = check_momentum_max(momentum_max, self.optimizer)
        self.lr_name = learning_rate_name(self.optimizer)
        self.base_lr = self.lr_name and getattr(self.optimizer.hyperparam, self.lr_name)
        if comm is not None:  # one model, data-parallel: own noise, dropout and shuffles
            runner.split_stream(self.rng, comm.rank)
            runner.split_stream(model.rng, comm.rank)
            self.optimizer = runner.multi_node(self.optimizer, comm)
        self.optimizer.setup(model)
        self.weight_decay = check_weight_decay(weight_decay)
        if self.weight_decay:  # rate * W added to every parameter's gradient before the update
            self.inner_optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(self.weight_decay))
        self.epoch = 0  # epochs trained so far
        self.loss_values, self.test_loss_values, self.seconds = [], [], []
        self.order, self.position = None, 0  # the current epoch's shuffle, the next minibatch
        self.config = {}  # what the run was started with, kept in snapshots

    def corrupt(self, x):
        """Masking noise: each value kept with probability 1 - corruption_ratio, else 0."""
        if self.corruption_ratio == 0:
            return x
        return keep(x, uniform(self.rng, x.shape, self.device.xp), self.corruption_ratio)

    def reconstruction_loss(self, x):
        """The training loss of a minibatch: the corrupted x in, the clean x as the target."""
        if self.loss == 'bce':
            return sigmoid_cross_entropy(self.model(self.corrupt(x), logits=True), x)
        return mean_squared_error(self.model(self.corrupt(x)), x)  # F's, fused

    @property
    def inner_optimizer(self):
        """The optimizer itself (under MPI, self.optimizer is ChainerMN's wrapper of it)."""
        return getattr(self.optimizer, 'actual_optimizer', self.optimizer)

    def set_learning_rate(self):
        """base_lr * lr_decay ** epochs done (also right after a resume)."""
        if self.lr_decay != 1:
            setattr(self.inner_optimizer.hyperparam, self.lr_name,
                    self.base_lr * self.lr_decay ** self.epoch)

    def set_momentum(self):
        """Sutskever et al.'s schedule at the optimizer's update count (snapshots keep it)."""
        optimizer = self.inner_optimizer
        optimizer.hyperparam.momentum = momentum_at(optimizer.t, self.momentum_max)

    def evaluate(self, x, batchsize=2500):
        """Mean squared reconstruction error per value, eval mode, no graph; with a
        communicator, of every process's share of the data together.

        Batches of 2,500 stay in cache; NumPy's pairwise float32 sum is accurate and, unlike a
        BLAS dot, gives the same bits whatever the number of threads."""
        total, size = 0.0, x.size
        with chainer.using_config('train', False), chainer.no_backprop_mode():
            for i in range(0, len(x), batchsize):
                batch = x[i:i + batchsize]
                diff = self.model(batch).array - batch
                total += float(self.device.xp.square(diff, out=diff).sum())
        if self.comm is not None:
            total, size = self.comm.allreduce_obj(np.array([total, size]))
        return float(total / size)

    def train_epoch(self, batchsize, progress=None):
        """One pass over the shuffled training set, or the rest of an interrupted one.

        Between minibatches it raises runner.Interrupted if SIGINT or SIGTERM arrived, and
        calls progress(text), if given, with how far the epoch is."""
        if self.order is None:
            self.order, self.position = self.rng.permutation(len(self.train)), 0
        if self.comm is not None:  # this process's part of the global minibatch
            batchsize //= self.comm.size
        order = self.device.send(self.order)  # kept on the host too, for snapshots
        self.set_learning_rate()
        with chainer.using_config('train', True), chainer.using_config('type_check', False):
            while self.position < len(order):
                runner.stop_requested()
                if progress:
                    progress(f'epoch {self.epoch + 1}: {self.position}/{len(order)} images')
                x = self.train[order[self.position:self.position + batchsize]]
                loss = self.reconstruction_loss(x)
                self.model.cleargrads()
                loss.backward()
                if self.momentum_max is not None:
                    self.set_momentum()
                self.optimizer.update()
                self.position += batchsize
        self.order = None

    def start(self, epoch=5, batchsize=100, log=print, after_epoch=None):
        """Train `epoch` more epochs; `after_epoch()` is called at the end of each. With a
        `log`, an epoch's progress is shown on a terminal (runner.show_progress)."""
        utils.check_int('epoch', epoch)
        runner.check_batchsize(batchsize, self.comm)
        last = self.epoch + epoch
        for _ in range(epoch):
            t0 = time.perf_counter()
            self.train_epoch(batchsize, progress=log and runner.show_progress)
            runner.end_progress()
            self.epoch += 1
            self.loss_values.append(self.evaluate(self.train))
            self.test_loss_values.append(self.evaluate(self.test))
            self.seconds.append(time.perf_counter() - t0)
            if log:
                log(f'epoch {self.epoch}/{last}  train {self.loss_values[-1]:.5f}  '
                    f'test {self.test_loss_values[-1]:.5f}  ({self.seconds[-1]:.2f} s)')
            if after_epoch:
                after_epoch()
        return self.loss_values

    def train_to(self, epoch, batchsize=100, log=print, after_epoch=None):
        """Train until `epoch` epochs in all are done: `epoch` on a new trainer, the rest on one
        resumed from a snapshot. The one place where a resume is counted."""
        utils.check_int('epoch', epoch)
        if epoch > self.epoch:
            self.start(epoch - self.epoch, batchsize, log=log, after_epoch=after_epoch)
        return self.loss_values

    def serialize(self, serializer):
        """Chainer's serializer protocol (save_npz / load_npz): everything needed to go on."""
        self.model.serialize(serializer['model'])
        # Chainer cannot load the state of an optimizer that has not updated yet (a DAE's,
        # during pretraining): that one is left out, as it holds nothing.
        if serializer('optimizer_used', self.optimizer.t > 0):
            self.optimizer.serialize(serializer['optimizer'])
        state = dict(epoch=self.epoch, loss_values=self.loss_values,
                     test_loss_values=self.test_loss_values, seconds=self.seconds,
                     position=self.position, config=self.config,
                     rng=self.rng.bit_generator.state, model_rng=self.model.rng.bit_generator.state)
        state = json.loads(serializer('state', json.dumps(state)))
        loading = isinstance(serializer, chainer.serializer.Deserializer)
        order = serializer('order', None if loading else
                           np.zeros(0, np.int64) if self.order is None else self.order)
        self.order = order if len(order) else None
        for key in ('epoch', 'loss_values', 'test_loss_values', 'seconds', 'position', 'config'):
            setattr(self, key, state[key])
        self.rng.bit_generator.state = state['rng']  # in place: pretrainers share it
        self.model.rng.bit_generator.state = state['model_rng']

    def condition_to_string(self, epoch=None):
        """The original's name of the run; `epoch` (default: epochs trained) as it should say."""
        optimizer = self.inner_optimizer
        return (f'alg={type(optimizer).__name__}_epoch={self.epoch if epoch is None else epoch}'
                f'_corp={percent(self.corruption_ratio)}' + self.model.to_string())

    def reconstructions(self, n=10, seed=0):
        """Rows: n test images, their corrupted versions, and the reconstructions of those."""
        x = runner.HOST.send(self.test[:n])
        noisy = x * (np.random.default_rng(seed).random(x.shape) >= self.corruption_ratio)
        noisy_out = inference(self.model, self.device.send(noisy))
        return np.concatenate([x, noisy, runner.HOST.send(noisy_out)])


# ---------------------------------------------------------------- helpers of the model and trainer

def get_activation(activate, name='activate'):
    """A Chainer function, or its name: sigmoid, relu, tanh, identity."""
    if isinstance(activate, str):
        return ACTIVATIONS[utils.check_choice(name, activate, sorted(ACTIVATIONS))]
    if not callable(activate):
        raise ConfigError(f'{name} must be a function or one of {", ".join(ACTIVATIONS)}; '
                          f'got {activate!r}')
    return activate


def learning_rate_name(optimizer):
    """The optimizer's learning-rate hyperparameter: Adam's alpha, the others' lr; None for
    those without one (AdaDelta)."""
    names = optimizer.hyperparam.get_dict()
    return next((name for name in ('alpha', 'lr') if name in names), None)


def get_optimizer(optimizer, lr=None):
    """A new chainer.optimizers instance from a class (as the original), a name, or an
    instance not yet set up (a copy of it, with the same hyperparameters; the caller's object
    is left as it is); AdaDelta, Adam, SGD, MomentumSGD and NesterovAG in their fused form
    (kernels.py). `lr`: its learning rate (Adam's alpha), default the optimizer's own. An optimizer already
    set up on a model is returned as it is."""
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[utils.check_choice('optimizer', optimizer, sorted(OPTIMIZERS))]
    if isinstance(optimizer, type) and issubclass(optimizer, chainer.Optimizer):
        optimizer = optimizer()
    elif isinstance(optimizer, chainer.Optimizer) and getattr(optimizer, 'target', None) is None:
        optimizer = copy.deepcopy(optimizer)
    if not isinstance(optimizer, chainer.Optimizer):
        raise ConfigError(f'optimizer must be a chainer.optimizers class, instance or name '
                          f'({", ".join(sorted(OPTIMIZERS))}); got {optimizer!r}')
    if lr is not None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float('inf'):
            raise ConfigError(f'lr must be a positive number, got {lr!r}')
        name = learning_rate_name(optimizer)
        if name is None:
            raise ConfigError(f'lr: {type(optimizer).__name__} has no learning rate; '
                              f'leave lr unset or choose e.g. Adam, SGD, MomentumSGD')
        setattr(optimizer.hyperparam, name, float(lr))
    return fused(optimizer)


def check_lr_decay(lr_decay, optimizer):
    """The factor applied to the optimizer's learning rate after every epoch."""
    if isinstance(lr_decay, bool) or not isinstance(lr_decay, (int, float)) \
            or not 0 < lr_decay <= 1:
        raise ConfigError(f'lr_decay must be a factor in (0, 1], got {lr_decay!r}')
    if lr_decay != 1 and learning_rate_name(optimizer) is None:
        raise ConfigError(f'lr_decay: {type(optimizer).__name__} has no learning rate to decay; '
                          f'leave lr_decay at 1')
    return float(lr_decay)


def momentum_at(t, momentum_max):
    """Sutskever et al. (2013)'s momentum at update t, 1 - 2^-(1 + log2(floor(t / 250) + 1)):
    0.5, then 0.75 from t = 250, 0.83 from 500, 0.875 from 750, ..., never above
    momentum_max."""
    return min(1 - 2. ** (-1 - math.log2(t // 250 + 1)), momentum_max)


def check_momentum_max(momentum_max, optimizer):
    """None (the optimizer's own, constant momentum) or a ceiling in (0, 1) for an optimizer
    that has a momentum."""
    if momentum_max is None:
        return None
    if isinstance(momentum_max, bool) or not isinstance(momentum_max, (int, float)) \
            or not 0 < momentum_max < 1:
        raise ConfigError(f'momentum_max must be a number in (0, 1), got {momentum_max!r}')
    if 'momentum' not in optimizer.hyperparam.get_dict():
        raise ConfigError(f'momentum_max: {type(optimizer).__name__} has no momentum; choose '
                          f'NesterovAG or MomentumSGD, or leave momentum_max unset')
    return float(momentum_max)


def check_weight_decay(weight_decay):
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) \
            or not 0 <= weight_decay < float('inf'):
        raise ConfigError(f'weight_decay must be a number >= 0, got {weight_decay!r}')
    return float(weight_decay)


def check_training(dropout_ratio, activate, optimizer, corruption_ratio, code_activate=None,
                   loss='mse', lr=None, lr_decay=1., weight_decay=0., momentum_max=None):
    """The settings both scripts share, checked before any data are loaded."""
    for name, value in (('dropout_ratio', dropout_ratio), ('corruption_ratio', corruption_ratio)):
        utils.check_ratio(name, value)
    get_activation(activate)
    if code_activate is not None:
        get_activation(code_activate, 'code_activate')
    utils.check_choice('loss', loss, LOSSES)
    check_weight_decay(weight_decay)
    optimizer = get_optimizer(optimizer, lr)
    check_lr_decay(lr_decay, optimizer)
    check_momentum_max(momentum_max, optimizer)


def uniform(rng, shape, xp=np):
    """float32 values uniform in [0, 1), drawn on xp's device. The NumPy generator `rng` is the
    only state: on a GPU each draw is made by a CuPy (Philox) generator seeded from `rng`."""
    if xp is np:
        return rng.random(shape, dtype=np.float32)
    generator = xp.random.RandomState(int(rng.integers(2**63)),
                                      method=xp.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
    return generator.random_sample(shape, dtype=np.float32)


def dropout(h, ratio, rng):
    """Inverted dropout in training mode, its mask drawn from the generator `rng`."""
    if not chainer.config.train or ratio == 0:
        return h
    mask = keep_mask(uniform(rng, h.shape, chainer.backend.get_array_module(h)), ratio,
                     1 / (1 - ratio))  # (u >= ratio) / (1 - ratio), fused
    return F.dropout(h, ratio, mask=mask)


def inference(fn, x, batchsize=2500):
    """fn(batch).array over x, batch by batch, in eval mode (no dropout), without a graph."""
    xp = chainer.backend.get_array_module(x)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return xp.concatenate([fn(x[i:i + batchsize]).array for i in range(0, len(x), batchsize)])


def percent(ratio):
    return round(ratio * 100)


def activations_to_string(model):
    """The code and output activations, in a run's name, where they differ from `activate`."""
    return ''.join(f'_{part}={f.__name__}' for part, f in (('code', model.code_activate),
                                                            ('out', model.output_activate))
                   if f is not model.activate)


# ---------------------------------------------------------------- the run and its command line

# The settings the original's names do not show, at the original's values: a run that
# differs in any of them adds it to its name (_seed=2_lr=0.01 ...), so no run writes over
# another's outputs, and the original's runs keep the original's names.
NAMED_IF_CHANGED = dict(seed=1, split='random', split_seed=1, batchsize=100, lr=None,
                        lr_decay=1., loss='mse', weight_decay=0., momentum_max=None,
                        device='@numpy', communicator=None)


def run(n_hidden, dropout_ratio, activate, tied, optimizer, corruption_ratio, epoch, batchsize,
        seed, dataset, out, device='@numpy', communicator=None, resume=None, split='random',
        code_activate=None, loss='mse', lr=None, lr_decay=1., split_seed=1, weight_decay=0.,
        momentum_max=None):
    """What `python autoencoder.py` does: check everything, load, train, write outputs."""
    arguments = {k: v for k, v in locals().items() if k != 'resume'}
    for name, value in (('n_hidden', n_hidden), ('epoch', epoch)):
        utils.check_int(name, value)
    check_training(dropout_ratio, activate, optimizer, corruption_ratio, code_activate, loss, lr,
                   lr_decay, weight_decay, momentum_max)
    data, device, comm, description, out_dir = runner.prepare(
        dataset, seed, device, communicator, batchsize, out, split, split_seed)
    model = build_model(data[0].shape[1], arguments)
    trainer = Train_AutoEncoder(data, model, corruption_ratio=corruption_ratio, rng=seed,
                                optimizer=get_optimizer(optimizer, lr), device=device, comm=comm,
                                loss=loss, lr_decay=lr_decay, weight_decay=weight_decay,
                                momentum_max=momentum_max)
    trainer.config = dict(script='autoencoder.py', arguments=arguments, dataset=description)
    name = trainer.condition_to_string(epoch) + runner.name_suffix(arguments, NAMED_IF_CHANGED,
                                                                   comm)
    snapshot = runner.train_with_snapshots(
        trainer, out_dir, name, resume, lambda save: trainer.train_to(
            epoch, batchsize, log=print if out_dir else None, after_epoch=save))
    if out_dir:  # the only process, or rank 0 of an MPI job
        runner.save_outputs(trainer, out_dir, name, trainer.config, model.weight_pictures(),
                            curves={'train': trainer.loss_values, 'test': trainer.test_loss_values})
        runner.done(snapshot)
    trainer.name = name
    return trainer


def build_model(n_inputs, arguments):
    """The AutoEncoder of a run's arguments (those of run(), as run.json records them)."""
    a = arguments
    return AutoEncoder(n_inputs, a['n_hidden'], dropout_ratio=a['dropout_ratio'],
                       activate=a['activate'], tied=a['tied'], seed=a['seed'],
                       code_activate=a['code_activate'],
                       output_activate='sigmoid' if a['loss'] == 'bce' else None)


def add_training_options(training, defaults):
    """The optimizer and loss options both scripts share."""
    training.add_argument('--optimizer', default=defaults['optimizer'], metavar='NAME',
                          help=f'a chainer.optimizers class: {", ".join(sorted(OPTIMIZERS))}')
    training.add_argument('--lr', type=float, default=defaults['lr'],
                          help="the optimizer's learning rate (Adam's alpha); None: Chainer's default")
    training.add_argument('--lr-decay', type=float, default=defaults['lr_decay'],
                          help='the learning rate is multiplied by this after every epoch')
    training.add_argument('--weight-decay', type=float, default=defaults['weight_decay'],
                          help='L2: this times each weight and bias added to its gradient (the '
                               'loss is a mean over pixels; deep_autoencoder.py: fine-tuning only)')
    training.add_argument('--momentum-max', type=float, default=defaults['momentum_max'],
                          help='NesterovAG, MomentumSGD: raise the momentum as Sutskever et al. '
                               '2013 did, 0.5, 0.75 from update 250, 0.83 from 500, ... up to '
                               'this; None: the optimizer\'s own, constant')
    training.add_argument('--loss', default=defaults['loss'], choices=LOSSES,
                          help='training loss: mse, or bce (cross-entropy of a sigmoid output '
                               'layer); the losses printed are the MSE either way')


def main(argv, defaults):
    return runner.run_cli(argument_parser(defaults), run, argv, longer='epoch')


def argument_parser(defaults):
    """The command line, its defaults `defaults` (search.py reads a script's options here)."""
    p = runner.parser(__doc__, 'autoencoder.py')
    model = p.add_argument_group('model')
    model.add_argument('--n-hidden', type=int, default=defaults['n_hidden'],
                       help='hidden units: the size of the code')
    model.add_argument('--activate', default=defaults['activate'], choices=sorted(ACTIVATIONS),
                       help='activation after both layers')
    model.add_argument('--code-activate', default=defaults['code_activate'],
                       choices=sorted(ACTIVATIONS),
                       help="the hidden layer's own activation; None: the same as --activate")
    model.add_argument('--dropout-ratio', type=float, default=defaults['dropout_ratio'],
                       help='dropout on the hidden layer while training, in [0, 1)')
    model.add_argument('--tied', action=argparse.BooleanOptionalAction, default=defaults['tied'],
                       help='decoder weight = encoder weight transposed (with its own bias)')
    training = p.add_argument_group('training')
    add_training_options(training, defaults)
    training.add_argument('--corruption-ratio', type=float, default=defaults['corruption_ratio'],
                          help='masking noise: fraction of input values set to 0, in [0, 1)')
    training.add_argument('--epoch', type=int, default=defaults['epoch'], help='training epochs')
    training.add_argument('--batchsize', type=int, default=defaults['batchsize'],
                          help='minibatch size')
    training.add_argument('--seed', type=int, default=defaults['seed'],
                          help='seed of the initial weights, the dropout masks, the shuffles and '
                               'the noise')
    return runner.add_run_options(p, defaults)


# Hyperparameters: the original's experiment. Edit them here, or override any of
# them on the command line (python autoencoder.py --help).
HYPERPARAMETERS = dict(
    n_hidden=100,           # hidden units (10*10, so the code tiles as a square)
    dropout_ratio=.10,      # dropout on the hidden layer while training
    activate='relu',        # sigmoid | relu | tanh | identity
    code_activate=None,     # the hidden layer's own activation; None: activate
    tied=False,             # True: decoder weight = encoder weight transposed
    optimizer='AdaDelta',   # any chainer.optimizers class name: Adam, SGD, ...
    lr=None,                # learning rate (Adam's alpha); None: Chainer's default
    lr_decay=1.,            # learning rate times this after every epoch
    weight_decay=0.,        # L2: this times each parameter added to its gradient
    momentum_max=None,      # NesterovAG, MomentumSGD: momentum raised to this; None: constant
    loss='mse',             # mse | bce (cross-entropy; the output becomes sigmoid)
    corruption_ratio=.3,    # masking noise: fraction of input values set to 0
    epoch=20,               # passes over the training set
    batchsize=100,          # minibatch size
    seed=1,                 # seed of the weights, dropout masks, shuffles and noise
    dataset='auto',         # auto | mnist | digits (auto: MNIST if available)
    split='random',         # random: the original's 75/25; official: MNIST's 60k/10k;
                            # validation: MNIST's training set split 50k / 10k
                            # (choosing settings without touching the test set)
    split_seed=1,           # seed of the random split
    out='results',          # outputs go to results/<dataset>/
    device='@numpy',        # @numpy: the CPU; @cupy:0: the first GPU (needs CuPy)
    communicator=None,      # e.g. 'naive', under mpiexec -n N: data-parallel (ChainerMN)
)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:], HYPERPARAMETERS))
