"""A convolutional denoising autoencoder in Chainer 7: the 2016 post's last question.

The post ends on a conjecture it never tested: the weight pictures did not show features a
person would recognise, and features that generalise as a person's eye does would seem to need
a method made for images, convolution. This is autoencoder.py's denoising autoencoder with its
encoder and decoder made of convolutions, trained by the same trainer (Train_AutoEncoder: the
same masking noise, dropout on the code, loss and optimizer), with a code of the same size, so
that the two compare row for row (reproduce.py --experiment conv).

For an image x (one channel, H x W pixels; flattened to n = H W values, as elsewhere), a
convolution with k x k kernels W, stride s and padding p computes

    y[o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] x[c, s i + u - p, s j + v - p]

(here k = 4, s = 2, p = 1: each one halves H and W), and a transposed convolution, the gradient
of a convolution with respect to its input, spreads each input value's kernel over its output:

    y[c, s i + u - p, s j + v - p] += W[o, c, u, v] x[o, i, j]          (doubles H and W)

The autoencoder, with channels (C1, C2):

    x~ = x * m                   masking noise: m_i = 0 with probability p, else 1
    h1 = f(conv1 x~)             C1 x H/2 x W/2
    h2 = f(conv2 h1)             C2 x H/4 x W/4
    h  = dropout(f(W3 h2 + b3))  the code: n_hidden values, a linear map of all of h2
    g2 = f(W4 h + b4)            C2 x H/4 x W/4
    g1 = f(deconv2 g2)           C1 x H/2 x W/2
    y  = f(deconv1 g1)           the reconstruction, H x W
    L  = mean_i (x_i - y_i)^2    (loss='bce': y = sigmoid(.), the cross-entropy)

Its pictures: the first layer's kernels (conv1.W, 4 x 4 each), and what each code unit draws:
the reconstruction from a code with that unit at 1 and the others 0, less the reconstruction
from the code of zeros (eval mode), one H x W tile a unit.
"""
import functools
import math

import lab.compat  # noqa: F401  (before Chainer: what it needs of NumPy 2, Python 3.12+)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers

import autoencoder
from autoencoder import dropout
from lab import cli
from lab.convolution import Convolution2D, Deconvolution2D  # Chainer's links, one product each
from lab.kernels import compose
from lab.options import (ConfigError, check_channels, check_int, check_ratio, get_activation,
                         make_rng)
from lab.run import activations_to_string, inference, percent
from lab.trainer import bytes_needed


class ConvAutoEncoder(chainer.Chain):
    """Convolutions down to a code of n_hidden values, transposed convolutions back up.

    n_inputs is a square image whose side divides by 4 (784: 28 x 28; 64: the 8 x 8 digits).
    `channels` (C1, C2): the feature maps of the two convolutions. As AutoEncoder: `seed` fixes
    the initial weights and the dropout masks, `activate` is f of every layer, code_activate
    and output_activate (default `activate`) the code's and the reconstruction's."""

    def __init__(self, n_inputs=784, n_hidden=100, channels=(16, 32), dropout_ratio=.5,
                 activate=F.sigmoid, seed=0, code_activate=None, output_activate=None):
        super().__init__()
        self.n_inputs = check_int('n_inputs', n_inputs)
        self.side = math.isqrt(n_inputs)
        if self.side ** 2 != n_inputs or self.side % 4:
            raise ConfigError(f'n_inputs must be a square image whose side divides by 4 (784: '
                              f'28 x 28, 64: 8 x 8), got {n_inputs!r}')
        self.n_hidden = check_int('n_hidden', n_hidden)
        self.channels = c1, c2 = check_channels('channels', channels)
        self.dropout_ratio = check_ratio('dropout_ratio', dropout_ratio)
        self.activate = get_activation(activate)
        self.code_activate = get_activation(code_activate or activate, 'code_activate')
        self.output_activate = get_activation(output_activate or activate, 'output_activate')
        self.rng = make_rng('seed', seed)
        self.inner = (c2, self.side // 4, self.side // 4)  # the maps the code is made from
        w = lambda: initializers.LeCunNormal(rng=self.rng)  # noqa: E731
        with self.init_scope():
            self.conv1 = Convolution2D(1, c1, ksize=4, stride=2, pad=1, initialW=w())
            self.conv2 = Convolution2D(c1, c2, ksize=4, stride=2, pad=1, initialW=w())
            self.encoder = L.Linear(math.prod(self.inner), n_hidden, initialW=w())
            self.decoder = L.Linear(n_hidden, math.prod(self.inner), initialW=w())
            self.deconv2 = Deconvolution2D(c2, c1, ksize=4, stride=2, pad=1, initialW=w())
            self.deconv1 = Deconvolution2D(c1, 1, ksize=4, stride=2, pad=1, initialW=w())

    def encode(self, x):
        """h = dropout(f(W3 f(conv2 f(conv1 x)) + b3)), the code."""
        f = self.activate
        h = f(self.conv2(f(self.conv1(F.reshape(x, (-1, 1, self.side, self.side))))))
        return dropout(compose(self.code_activate, self.encoder)(F.reshape(h, (len(h), -1))),
                       self.dropout_ratio, self.rng)

    def decode(self, h, logits=False):
        """y = f(deconv1 f(deconv2 f(W4 h + b4))), flattened; logits=True: before the output
        activation."""
        f = self.activate
        g = F.reshape(compose(f, self.decoder)(h), (-1, *self.inner))
        y = F.reshape(self.deconv1(f(self.deconv2(g))), (-1, self.n_inputs))
        return y if logits else self.output_activate(y)

    def forward(self, x, hidden=False, logits=False):
        h = self.encode(x)
        return h if hidden else self.decode(h, logits)

    def to_string(self):
        return (f'conv={"-".join(map(str, self.channels))}drop={percent(self.dropout_ratio)}'
                f'activate={self.activate.__name__}_nhidden={self.n_hidden}'
                + activations_to_string(self))

    def code_units(self):
        """What each code unit draws: decode(e_i) - decode(0), eval mode; one row a unit."""
        xp = self.xp
        codes = xp.concatenate([xp.zeros((1, self.n_hidden), np.float32),
                                xp.eye(self.n_hidden, dtype=np.float32)])
        drawn = inference(self.decode, codes)
        return drawn[1:] - drawn[:1]

    def weight_pictures(self):
        """{file suffix: rows to tile}: the first layer's kernels, what each code unit draws."""
        return {'kernels.png': self.conv1.W.array.reshape(len(self.conv1.W), -1),
                'units.png': self.code_units()}


def model(hp, n_inputs):
    """The ConvAutoEncoder of the hyperparameters hp (HYPERPARAMETERS' keys)."""
    return ConvAutoEncoder(n_inputs, hp['n_hidden'], hp['channels'],
                           dropout_ratio=hp['dropout_ratio'], activate=hp['activate'],
                           seed=hp['seed'], code_activate=hp['code_activate'],
                           output_activate='sigmoid' if hp['loss'] == 'bce' else None)


def memory(hp, data):
    """The bytes a run takes beside its data (lab.trainer.bytes_needed), from its kernels,
    weights and maps; the options that size them."""
    n, h, (c1, c2) = data[0].shape[1], hp['n_hidden'], hp['channels']
    params = 2 * (16 * c1 + 16 * c1 * c2 + n // 16 * c2 * h)  # conv, deconv; dense in and out
    widths = (n, c1 * n // 4, c2 * n // 16, h, c2 * n // 16, c1 * n // 4, n)
    return bytes_needed(params, widths, hp['batchsize']), ('n_hidden', 'channels', 'batchsize')


# The options the original's name shows (conv=16-32drop=...activate=..._nhidden=...); a run's
# name adds any other that differs from its value in the block below.
SHOWN = ('optimizer', 'epoch', 'corruption_ratio', 'channels', 'dropout_ratio', 'activate',
         'n_hidden', 'code_activate')

# autoencoder.py's __main__ with this model: the data, ConvAutoEncoder, Train_AutoEncoder,
# training, the pictures (kernels.png, units.png; the losses, the reconstructions, the model).
main = functools.partial(autoencoder.main, model=model, memory=memory, shown=SHOWN,
                         script=__file__)


# Hyperparameters, at the settings of the grid's relu row (Adam, noise 0.3, dropout 0.1, 20
# epochs), so that the two compare. Edit them here, or give any of them on the command line
# (python conv_autoencoder.py --help); the training options are autoencoder.py's, their help in
# its block.
HYPERPARAMETERS = dict(
    # --- model ---
    n_hidden=100,           # the size of the code, as autoencoder.py's (10*10)
    channels=(16, 32),      # feature maps of the two convolutions (4 x 4 kernels, stride 2)
    activate='relu',        # activation after every layer
    code_activate=None,     # the code's own activation; None: the same as activate
    dropout_ratio=.10,      # dropout on the code while training, in [0, 1)
    # --- training ---
    optimizer='Adam',
    lr=None,
    lr_decay=1.,
    weight_decay=0.,
    momentum_max=None,
    loss='mse',
    sparsity=0.,
    corruption_ratio=.3,
    epoch=20,
    batchsize=100,
    seed=1,
)


if __name__ == '__main__':
    with cli.command():  # its errors in one line each, its exit status (lab.cli.EXIT)
        hp = cli.parse(HYPERPARAMETERS, help_from=[autoencoder])
        main(hp)
