"""A denoising autoencoder in Chainer 7, after Nyker510/Chainer's autoencoder.py (2016).

For an input x in [0, 1]^n (a flattened image):

    x~ = x * m                   masking noise: m_i = 0 with probability p, else 1
    h  = dropout(f(W1 x~ + b1))  encode: the hidden code, n_hidden values
    y  = f(W2 h + b2)            decode: the reconstruction
    L  = mean_i (x_i - y_i)^2    trained to rebuild the *clean* x
                                 (loss='bce': y = sigmoid(W2 h + b2) and
                                  L = -mean_i [x_i log y_i + (1 - x_i) log(1 - y_i)])

A sparse autoencoder (sparsity = s > 0) minimises L + s * sum_j |h_j|, the L1 norm of the
code an image beside the loss: the "activity regulariser" of Keras' "Building autoencoders"
(Chollet, 2016). It pushes every code value towards 0 with the same force s, whatever its
size (a Laplace prior on the code): relu units end at exactly 0 for many images. Ng's sparse
autoencoder (CS294A notes) penalises instead beta * sum_j KL(rho || rho_j), rho_j the mean
activation of unit j over the data (sigmoid units): its gradient, beta (-rho / rho_j +
(1 - rho) / (1 - rho_j)), vanishes where a unit's mean activation reaches the target rho (0.05),
so it asks for a level of sparsity per unit, where the L1 form sets no target, only a price.
For sigmoid units |h_j| = h_j, and the L1 penalty is s times the sum of the units' activations.

Without noise, with f the identity, no biases and W2 = W1^T, minimising L is what
PCA does: a linear autoencoder learns the principal subspace. Biases, a
non-linear f and the noise make it "PCA with a more expressive function".
Denoising autoencoders: Vincent, Larochelle, Bengio, Manzagol, ICML 2008.

The rows of W1 (encoder.W, shape (n_hidden, n)) are the learned filters; the
script tiles them, and the columns of W2, into pictures.
"""
import math
import sys
import time

import lab.compat  # noqa: F401  (before Chainer: what it needs of NumPy 2, Python 3.12+)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers, optimizers
from tqdm import tqdm

from lab import cli, devices
from lab.kernels import compose, mean_squared_error
from lab.options import (LOSSES, ConfigError, check_choice, check_int, check_ratio,
                         get_activation, get_optimizer, make_rng)
from lab.run import Run, activations_to_string, percent
from lab.signals import stop_requested
from lab.trainer import Trainer, bytes_needed
from utils import load_mnist, save_images, save_loss_curves


class AutoEncoder(chainer.Chain):
    """One hidden layer: encoder = Linear(n_inputs, n_hidden), decoder = Linear(n_hidden, n_inputs).

    tied=True: no decoder weight of its own; the decoder is encoder.W^T with its own bias
    (decoder_bias). `seed` fixes the initial weights and the dropout masks (a local generator).
    `activate` is f of both layers; code_activate (the hidden layer's) and output_activate
    (the reconstruction's), default `activate`, set them one by one."""

    def __init__(self, n_inputs=784, n_hidden=100, dropout_ratio=.5, activate=F.sigmoid,
                 tied=False, seed=0, code_activate=None, output_activate=None):
        super().__init__()
        self.n_inputs = check_int('n_inputs', n_inputs)
        self.n_hidden = check_int('n_hidden', n_hidden)
        self.dropout_ratio = check_ratio('dropout_ratio', dropout_ratio)
        self.activate = get_activation(activate)
        self.code_activate = get_activation(code_activate or activate, 'code_activate')
        self.output_activate = get_activation(output_activate or activate, 'output_activate')
        self.tied = bool(tied)
        self.rng = make_rng('seed', seed)
        with self.init_scope():
            self.encoder = L.Linear(n_inputs, n_hidden, initialW=initializers.LeCunNormal(rng=self.rng))
            if self.tied:
                self.decoder_bias = chainer.Parameter(np.zeros(n_inputs, np.float32))
            else:
                self.decoder = L.Linear(n_hidden, n_inputs,
                                        initialW=initializers.LeCunNormal(rng=self.rng))

    def encode(self, x):
        """h = dropout(f(W1 x + b1)); compose(f, link)(x) is f(link(x)), fused (lab.kernels)."""
        return dropout(compose(self.code_activate, self.encoder)(x), self.dropout_ratio,
                       self.rng)

    def decode(self, h, logits=False):
        """y = f(W2 h + b2), the reconstruction; logits=True: before the output activation."""
        f = F.identity if logits else self.output_activate
        if self.tied:
            return f(F.linear(h, F.transpose(self.encoder.W), self.decoder_bias))
        return compose(f, self.decoder)(h)

    def forward(self, x, hidden=False, logits=False):
        return self.encode(x) if hidden else self.decode(self.encode(x), logits)

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
                            initialW=devices.HOST.send(self.encoder.W.array).T.copy(),
                            initial_bias=devices.HOST.send(self.decoder_bias.array).copy())
            return link.to_device(self.device)
        return self.decoder.copy(mode='copy')


class Train_AutoEncoder(Trainer):
    """Trains `model` to rebuild clean inputs from masked ones; tt_data = [train, test].

    It minimises `loss`: 'mse' (the original's), or 'bce', the cross-entropy of the model's
    sigmoid output (what Hinton & Salakhutdinov fine-tuned with). Whatever the loss, after
    every epoch the reconstruction MSE of the whole train and test sets is measured in eval
    mode (no noise, no dropout) into loss_values / test_loss_values. The learning rate is
    multiplied by `lr_decay` after every epoch. `sparsity` adds sparsity * sum_j |h_j| of the
    code to each image's loss (the L1 penalty above). `weight_decay` adds weight_decay * p to the
    gradient of every parameter p (an L2 cost weight_decay / 2 * |p|^2 beside the loss, which
    is a mean over the pixels: a cost on their sum is this one times the number of pixels).
    `momentum_max` (optimizers with a momentum: MomentumSGD, NesterovAG) raises the momentum
    update by update as Sutskever, Martens, Dahl & Hinton (ICML 2013) did (momentum_at).
    `rng` is a seed or a numpy Generator: it draws the shuffles and the masking noise.

    What every trainer shares comes from lab.trainer.Trainer: the device the model and the
    data are put on (`device`, default the model's), data-parallel training over MPI processes
    (`comm`, a ChainerMN communicator; `batchsize` is then the global one), the optimizer and
    its schedule, the eval-mode losses, train_to, and the snapshots: save_npz / load_npz of a
    trainer is a snapshot from which training continues exactly as if never stopped.
    """

    def __init__(self, tt_data, model, corruption_ratio=.1, rng=1, optimizer=optimizers.Adam,
                 device=None, comm=None, loss='mse', lr_decay=1., weight_decay=0.,
                 momentum_max=None, sparsity=0.):
        self.loss = check_choice('loss', loss, LOSSES)
        if loss == 'bce' and model.output_activate is not F.sigmoid:
            raise ConfigError(f"loss='bce' is the cross-entropy of a sigmoid output; this "
                              f"model's output activation is {model.output_activate.__name__}")
        super().__init__(tt_data, model, rng, optimizer, device, comm, lr_decay, weight_decay,
                         momentum_max)
        self.corruption_ratio = check_ratio('corruption_ratio', corruption_ratio)
        self.sparsity = sparsity

    def corrupt(self, x):
        """Masking noise: x * m, each m_i 0 with probability corruption_ratio, else 1."""
        if self.corruption_ratio == 0:
            return x
        return x * (uniform(self.rng, x.shape, self.device.xp) >= self.corruption_ratio)

    def reconstruction_loss(self, x):
        """The training loss of a minibatch: the corrupted x in, the clean x as the target."""
        h = self.model.encode(self.corrupt(x))
        if self.loss == 'bce':  # the cross-entropy of sigmoid(z) per value, from the logits z
            loss = F.bernoulli_nll(x, self.model.decode(h, logits=True)) / x.size
        else:
            loss = mean_squared_error(self.model.decode(h), x)  # F's, fused (lab.kernels)
        return loss + self.sparsity * F.sum(abs(h)) / len(h) if self.sparsity else loss

    def set_momentum(self):
        """Sutskever et al.'s schedule at the optimizer's update count (snapshots keep it)."""
        optimizer = self.inner_optimizer
        optimizer.hyperparam.momentum = momentum_at(optimizer.t, self.momentum_max)

    def train_epoch(self, batchsize, bar=None):
        """One pass over the shuffled training set, or the rest of an interrupted one; `bar`,
        if given, is told the images done (a tqdm bar). Between minibatches it raises
        lab.signals.Interrupted if SIGINT or SIGTERM arrived."""
        if self.order is None:
            self.order, self.position = self.rng.permutation(len(self.train)), 0
        if self.comm is not None:  # this process's part of the global minibatch
            batchsize //= self.comm.size
        order = self.device.send(self.order)  # kept on the host too, for snapshots
        self.set_learning_rate()
        with chainer.using_config('train', True), chainer.using_config('type_check', False):
            while self.position < len(order):
                stop_requested()
                x = self.train[order[self.position:self.position + batchsize]]
                loss = self.finite(self.reconstruction_loss(x), 'training loss',
                                   self.position // batchsize + 1)  # Diverged if it is not
                self.model.cleargrads()
                loss.backward()
                if self.momentum_max is not None:
                    self.set_momentum()
                self.optimizer.update()
                self.position += batchsize
                if bar is not None:
                    bar.update(len(x))
        self.order = None

    def start(self, epoch=5, batchsize=100, log=print, after_epoch=None):
        """Train `epoch` more epochs, printing each one's losses with `log`; `after_epoch()`
        is called at the end of each. With a `log`, a progress bar runs on a terminal."""
        check_int('epoch', epoch)
        devices.check_batchsize(batchsize, self.comm)
        last = self.epoch + epoch
        for _ in range(epoch):
            t0 = time.perf_counter()
            with tqdm(total=len(self.train), desc=f'epoch {self.epoch + 1}', unit='images',
                      file=sys.stdout, leave=False, disable=None if log else True,
                      mininterval=.5, dynamic_ncols=True) as bar:  # on a terminal only
                self.train_epoch(batchsize, bar)
            self.epoch += 1
            measured = self.measure(t0)  # the train and test MSE, the seconds (lab.trainer)
            if log:
                log(f'epoch {self.epoch}/{last}  {measured}')
            if after_epoch:
                after_epoch()
        return self.loss_values

    def condition_to_string(self, epoch=None):
        """The original's name of the run; `epoch` (default: epochs trained) as it should say."""
        optimizer = self.inner_optimizer
        return (f'alg={type(optimizer).__name__}_epoch={self.epoch if epoch is None else epoch}'
                f'_corp={percent(self.corruption_ratio)}' + self.model.to_string())


def momentum_at(t, momentum_max):
    """Sutskever et al. (2013)'s momentum at update t, 1 - 2^-(1 + log2(floor(t / 250) + 1)):
    0.5, then 0.75 from t = 250, 0.83 from 500, 0.875 from 750, ..., never above
    momentum_max."""
    return min(1 - 2. ** (-1 - math.log2(t // 250 + 1)), momentum_max)


def uniform(rng, shape, xp=np):
    """float32 values uniform in [0, 1), drawn on xp's device. The NumPy generator `rng` is the
    only state: on a GPU each draw is made by a CuPy (Philox) generator seeded from `rng`."""
    if xp is np:
        return rng.random(shape, dtype=np.float32)
    generator = xp.random.RandomState(int(rng.integers(2**63)),
                                      method=xp.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
    return generator.random_sample(shape, dtype=np.float32)


def dropout(h, ratio, rng):
    """Inverted dropout in training mode: h * m / (1 - ratio), each m_i 0 with probability
    `ratio`, else 1, drawn from the generator `rng`."""
    if not chainer.config.train or ratio == 0:
        return h
    xp = chainer.backend.get_array_module(h)
    mask = (uniform(rng, h.shape, xp) >= ratio) * np.float32(1 / (1 - ratio))
    return F.dropout(h, ratio, mask=mask)


# ---------------------------------------------------------------- the run

# The options the original's name shows; a run's name adds any other that differs from its
# value in the block below (_seed=2_lr=0.01 ...), so no run writes over another's outputs.
SHOWN = ('optimizer', 'epoch', 'corruption_ratio', 'dropout_ratio', 'activate', 'n_hidden',
         'tied', 'code_activate')


def model(hp, n_inputs):
    """The AutoEncoder of the hyperparameters hp (HYPERPARAMETERS' keys) for n_inputs values."""
    return AutoEncoder(n_inputs, hp['n_hidden'], dropout_ratio=hp['dropout_ratio'],
                       activate=hp['activate'], tied=hp['tied'], seed=hp['seed'],
                       code_activate=hp['code_activate'],
                       output_activate='sigmoid' if hp['loss'] == 'bce' else None)


def memory(hp, data):
    """The bytes a run takes beside its data (lab.trainer.bytes_needed), from its weights and
    its layers' widths; the options that size them."""
    n, h = data[0].shape[1], hp['n_hidden']
    params = n * h * (1 if hp['tied'] else 2) + h + n
    return bytes_needed(params, (n, h, n), hp['batchsize']), ('n_hidden', 'batchsize')


def main(hp, model=model, memory=memory, shown=SHOWN, script=__file__):
    """The post's __main__: the data, the autoencoder, its trainer, training, the pictures. The
    machinery around them (checks, the name's lock, snapshots and resume, Ctrl-C, outputs,
    devices, MPI) is one call each to a lab.run.Run. `model(hp, n_inputs)` builds the model,
    memory(hp, data) says what it takes, `shown` are the options its name shows, `script` is
    the run's command (conv_autoencoder.py passes its own)."""
    run = Run(script, hp)
    data = run.data(load_mnist)  # [train, test], split as the original split them
    run.fits(*memory(hp, data))  # refused here if the machine has not the memory it needs
    ae = model(hp, n_inputs=data[0].shape[1])
    train_ae = Train_AutoEncoder(tt_data=data, model=ae, corruption_ratio=hp['corruption_ratio'],
                                 optimizer=get_optimizer(hp['optimizer'], hp['lr']),
                                 rng=hp['seed'], loss=hp['loss'], lr_decay=hp['lr_decay'],
                                 weight_decay=hp['weight_decay'],
                                 momentum_max=hp['momentum_max'], sparsity=hp['sparsity'],
                                 device=run.device, comm=run.comm)
    name = run.full_name(train_ae.condition_to_string(hp['epoch']), shown)
    with run.training(train_ae, name):
        train_ae.train_to(epoch=hp['epoch'], batchsize=hp['batchsize'], log=run.log,
                          after_epoch=run.save)
    run.save_outputs(ae.weight_pictures(), save_images, save_loss_curves)  # enc.png, dec.png
    return train_ae


# Hyperparameters: the original's experiment. Edit them here, or give any of them on the
# command line (python autoencoder.py --help): each comment is its option's help.
HYPERPARAMETERS = dict(
    # --- model ---
    n_hidden=100,           # hidden units: the size of the code (10*10, so it tiles as a square)
    activate='relu',        # activation after both layers
    code_activate=None,     # the hidden layer's own activation; None: the same as activate
    dropout_ratio=.10,      # dropout on the hidden layer while training, in [0, 1)
    tied=False,             # decoder weight = encoder weight transposed (with its own bias)
    # --- training ---
    optimizer='AdaDelta',   # a chainer.optimizers class: Adam, AdaDelta, SGD, MomentumSGD, ...
    lr=None,                # the optimizer's learning rate (Adam's alpha); None: Chainer's default
    lr_decay=1.,            # the learning rate is multiplied by this after every epoch
    weight_decay=0.,        # L2: this times each weight and bias added to its gradient
    momentum_max=None,      # NesterovAG, MomentumSGD: raise the momentum as Sutskever et al.
                            # 2013 did, 0.5, 0.75 from update 250, 0.83 from 500, ... up to
                            # this; None: the optimizer's own, constant
    loss='mse',             # training loss: mse, or bce (cross-entropy of a sigmoid output
                            # layer); the losses printed are the MSE either way
    sparsity=0.,            # weight of an L1 penalty on the code, sparsity * sum_j |h_j|
                            # an image, beside the loss (a sparse autoencoder), >= 0
    corruption_ratio=.3,    # masking noise: fraction of input values set to 0, in [0, 1)
    epoch=20,               # training epochs: passes over the training set
    batchsize=100,          # minibatch size
    seed=1,                 # seed of the weights, the dropout masks, the shuffles and the noise
)


if __name__ == '__main__':
    with cli.command():  # its errors in one line each, its exit status (lab.cli.EXIT)
        hp = cli.parse(HYPERPARAMETERS)
        main(hp)
