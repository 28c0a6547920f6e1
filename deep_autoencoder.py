"""A stacked deep autoencoder in Chainer 7, after Nyker510/Chainer's deep_autoencoder.py (2016).

For hidden sizes (a, b) the network is the original's, with links l1..l4:

    h1 = f(l1 x)    784 -> a          encoder
    h2 = f(l2 h1)   a -> b            the code
    h3 = f(l3 h2)   b -> a            decoder
    y  = f(l4 h3)   a -> 784          the reconstruction

(dropout on h1..h3 while training). k hidden sizes give 2k links, mirrored. The code
layer (l2 here) can have an activation of its own (code_activate, e.g. the identity, as
Hinton & Salakhutdinov's 30 linear code units), and with loss='bce' the output is a
sigmoid trained on the cross-entropy -mean_i [x_i log y_i + (1 - x_i) log(1 - y_i)].

Greedy layer-wise pretraining (Hinton & Salakhutdinov, Science 2006; Bengio et al.
2007; with denoising autoencoders, Vincent et al. 2008): train an AutoEncoder
784 -> a on the data, encode the train and test sets with it, train an
AutoEncoder a -> b on those codes, and so on; then copy encoder i into l_i and
decoder i into the mirrored link. Fine-tuning trains the whole unrolled stack
end to end on reconstruction, with the same loop as a single autoencoder.
"""
import copy
import functools

import lab.compat  # noqa: F401  (before Chainer: what it needs of NumPy 2, Python 3.12+)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers, optimizers

from autoencoder import AutoEncoder, Train_AutoEncoder, dropout
from lab import cli, devices
from lab.kernels import compose
from lab.options import INITS, check_choice, check_int, check_ratio, check_sizes, get_activation
from lab.options import get_optimizer, make_rng
from lab.run import Run, activations_to_string, inference, percent
from lab.trainer import bytes_needed
from utils import load_mnist, save_images, save_loss_curves


def sparse(rng, nonzero=15):
    """Sparse initialisation (Martens, ICML 2010; Sutskever et al., ICML 2013), an initialW:
    each unit gets `nonzero` incoming weights drawn from a unit Gaussian (all of them if it
    has fewer inputs), the others 0. `rng`: a NumPy Generator."""
    def initialize(array):
        array[...], k = 0, min(nonzero, array.shape[1])
        for row in array:
            row[rng.choice(array.shape[1], k, replace=False)] = rng.standard_normal(k)
    return initialize


class DAE(chainer.Chain):
    """The unrolled stack: links l1..l2k for k hidden sizes; the two-size case is the original.

    corruption_ratio is recorded in to_string() as the original did; the noise itself is
    the trainer's. `seed` fixes the initial weights and the dropout masks; `init` is how the
    weights start: 'lecun' (LeCun normal) or 'sparse' (see sparse; biases 0 either way).
    `activate` is f of every layer; code_activate (the innermost layer's) and
    output_activate (the reconstruction's), default `activate`, set those two on their own."""

    def __init__(self, n_inputs=784, n_hidden_layers=(784, 100), activate=F.sigmoid,
                 dropout_ratio=.1, corruption_ratio=.0, seed=0, code_activate=None,
                 output_activate=None, init='lecun'):
        super().__init__()
        self.n_inputs = check_int('n_inputs', n_inputs)
        self.n_hidden_layers = check_sizes('n_hidden_layers', n_hidden_layers)
        self.activate = get_activation(activate)
        self.code_activate = get_activation(code_activate or activate, 'code_activate')
        self.output_activate = get_activation(output_activate or activate, 'output_activate')
        hidden = [self.activate] * (len(self.n_hidden_layers) - 1)  # each link's, l1 .. l2k:
        self.activations = [*hidden, self.code_activate, *hidden, self.output_activate]
        self.dropout_ratio = check_ratio('dropout_ratio', dropout_ratio)
        self.corruption_ratio = check_ratio('corruption_ratio', corruption_ratio)
        self.rng = make_rng('seed', seed)
        self.init = check_choice('init', init, INITS)
        weights = (lambda: sparse(self.rng)) if init == 'sparse' else (
            lambda: initializers.LeCunNormal(rng=self.rng))
        sizes = (self.n_inputs, *self.n_hidden_layers)
        shapes = [*zip(sizes, sizes[1:]), *zip(sizes[:0:-1], sizes[-2::-1])]
        with self.init_scope():
            for i, (n_in, n_out) in enumerate(shapes, 1):
                setattr(self, f'l{i}', L.Linear(n_in, n_out, initialW=weights()))

    @property
    def layers(self):
        """The links in order: l1 .. l2k."""
        return [getattr(self, f'l{i}') for i in range(1, 2 * len(self.n_hidden_layers) + 1)]

    def encode(self, x):
        """The code: h_i = dropout(f(l_i h_{i-1})) through the k encoder links."""
        for link, f in zip(self.layers, self.activations[:len(self.n_hidden_layers)]):
            x = dropout(compose(f, link)(x), self.dropout_ratio, self.rng)  # f(link(x)), fused
        return x

    def decode(self, h, logits=False):
        """The reconstruction from a code through the k decoder links, dropout on their hidden
        layers (logits=True: before the output activation)."""
        *hidden, last = self.layers[len(self.n_hidden_layers):]
        for link, f in zip(hidden, self.activations[len(self.n_hidden_layers):]):
            h = dropout(compose(f, link)(h), self.dropout_ratio, self.rng)
        return compose(F.identity if logits else self.output_activate, last)(h)

    def forward(self, x, hidden=False, logits=False):
        return self.encode(x) if hidden else self.decode(self.encode(x), logits)

    def to_string(self):
        return (''.join(f'nhidden{i}={n}' for i, n in enumerate(self.n_hidden_layers, 1))
                + f'corp={percent(self.corruption_ratio)}activate={self.activate.__name__}'
                + activations_to_string(self))

    def features_in_pixels(self, layer):
        """The product of the weight matrices l_layer.W @ ... @ l1.W, one row per unit of encoder
        layer `layer`, as wide as the input. It ignores the activations and the biases: a linear
        picture of each unit's weights in pixel space, not what the unit computes."""
        return functools.reduce(lambda w, link: link.W.array @ w, self.layers[1:layer],
                                self.l1.W.array)  # on the model's device

    def weight_pictures(self):
        """{file suffix: rows to tile}: every encoder layer's weights, and from the second layer
        on their product with the layers below (features_in_pixels)."""
        k = len(self.n_hidden_layers)
        return {**{f'layer{i}.png': link.W.array for i, link in enumerate(self.layers[:k], 1)},
                **{f'layer{i}_in_pixels.png': self.features_in_pixels(i) for i in range(2, k + 1)}}


class Train_DAE(Train_AutoEncoder):
    """Greedy layer-wise pretraining (pre_training), then end-to-end training (fine_tuning).

    Pretraining uses the same optimizer, learning rate schedule and dropout; its masking
    noise is pretrain_corruption_ratio (default: corruption_ratio, as the original);
    `weight_decay` is fine-tuning's alone. The first layer's autoencoder is trained on
    `loss`, the ones above it on the MSE of codes.

    Snapshots (Chainer's save_npz / load_npz of the trainer) hold the pretraining layers
    too, so an interrupted run continues in the layer and minibatch where it stopped. The other
    arguments (device, comm, loss, lr_decay, weight_decay, momentum_max) are Train_AutoEncoder's,
    given by name."""

    def __init__(self, tt_data, model, corruption_ratio=.3, optimizer=optimizers.Adam, rng=71,
                 pretrain_corruption_ratio=None, **kwargs):
        self._optimizer = copy.deepcopy(get_optimizer(optimizer))  # a fresh one per layer
        super().__init__(tt_data, model, corruption_ratio, rng, optimizer, **kwargs)
        self.pretrain_corruption_ratio = check_ratio(
            'pretrain_corruption_ratio',
            corruption_ratio if pretrain_corruption_ratio is None else pretrain_corruption_ratio)
        self.pretrainers = []  # one Train_AutoEncoder per hidden layer, with its loss history
        self.pretrained = False

    def pretrainer(self, layer, seed):
        """The autoencoder of hidden layer `layer` (from 1) and its trainer, on the codes of
        the layers below it. It shares this trainer's generator, device and communicator."""
        model, data = self.model, [self.train, self.test]
        for link, f in zip(model.layers[:layer - 1], model.activations):  # in eval mode
            data = [inference(compose(f, link), x, 10000) for x in data]
        autoencoder = AutoEncoder(data[0].shape[1], model.n_hidden_layers[layer - 1],
                                  dropout_ratio=model.dropout_ratio, activate=model.activate,
                                  code_activate=model.activations[layer - 1],
                                  output_activate=model.activations[-layer], seed=seed)
        return Train_AutoEncoder([devices.HOST.send(x) for x in data], autoencoder,
                                 corruption_ratio=self.pretrain_corruption_ratio, rng=self.rng,
                                 optimizer=copy.deepcopy(self._optimizer), device=self.device,
                                 comm=self.comm, loss=self.loss if layer == 1 else 'mse',
                                 lr_decay=self.lr_decay, momentum_max=self.momentum_max)

    def pre_training(self, epoch=5, batchsize=100, log=print, after_epoch=None):
        """Train one AutoEncoder per hidden size, `epoch` epochs each, on the codes of the
        previous one, then copy encoder i into l_i and decoder i into the mirrored link.
        A trainer resumed from a snapshot goes on where it stopped (one that has pretrained is
        done); `epoch` is checked by train_to."""
        model, k = self.model, len(self.model.n_hidden_layers)
        for i in range(1, k + 1):
            if i > len(self.pretrainers):  # else resumed from a snapshot
                self.pretrainers.append(self.pretrainer(i, seed=int(self.rng.integers(2**31))))
            trainer = self.pretrainers[i - 1]
            trainer.train_to(epoch, batchsize, after_epoch=after_epoch,
                             log=log and (lambda line: log(f'pretrain layer {i}, {line}')))
            getattr(model, f'l{i}').copyparams(trainer.model.encoder)
            getattr(model, f'l{2 * k + 1 - i}').copyparams(trainer.model.decoder)
        self.pretrained = True
        return [t.loss_values for t in self.pretrainers]

    def fine_tuning(self, epoch=5, batchsize=100, log=print, after_epoch=None):
        """Train the whole stack end to end, `epoch` epochs in all (a trainer resumed from a
        snapshot goes on where it stopped): masking noise on the input, dropout on the hidden
        layers, eval-mode train and test MSE every epoch."""
        return self.train_to(epoch, batchsize, after_epoch=after_epoch,
                             log=log and (lambda line: log(f'fine-tune {line}')))

    def phases(self):
        """{phase: its trainer}: each pretraining layer, then fine-tuning (the log's phases)."""
        return {**{f'pretrain layer {i}': t for i, t in enumerate(self.pretrainers, 1)},
                'fine-tune': self}

    def record(self):
        """run.json's losses: fine-tuning's, and each pretraining layer's."""
        own, layers = super().record(), [t.record() for t in self.pretrainers]
        return dict(own, **{f'pretrain_{key}': [layer[key] for layer in layers] for key in own})

    def serialize(self, serializer):
        """A snapshot holds the pretraining layers too, as far as they got, each rebuilt on
        loading by pretrainer(layer): an interrupted run goes on in the layer it stopped in."""
        super().serialize(serializer)
        n = serializer('pretrainers', len(self.pretrainers))
        self.pretrained = bool(serializer('pretrained', self.pretrained))
        if isinstance(serializer, chainer.serializer.Deserializer):  # rebuilt, then loaded
            self.pretrainers = [self.pretrainer(i, seed=0) for i in range(1, n + 1)]
        for i, layer in enumerate(self.pretrainers, 1):
            layer.serialize(serializer[f'pretrain{i}'])


# ---------------------------------------------------------------- the run

# The options the original's name shows; a run's name adds any other that differs from its
# value in the block below (_seed=72_pretrain=5 ...), so no run writes over another's outputs.
SHOWN = ('optimizer', 'finetune_epoch', 'corruption_ratio', 'n_hidden_layers', 'activate',
         'code_activate', 'no_pretraining')


def model(hp, n_inputs):
    """The DAE of the hyperparameters hp (HYPERPARAMETERS' keys) for n_inputs values."""
    return DAE(n_inputs, hp['n_hidden_layers'], hp['activate'], hp['dropout_ratio'],
               hp['corruption_ratio'], hp['seed'], hp['code_activate'],
               'sigmoid' if hp['loss'] == 'bce' else None, hp['init'])


def memory(hp, data):
    """The bytes a run takes beside its data (lab.trainer.bytes_needed): the unrolled stack,
    and pretraining's codes of the training and test sets at its widest layer; the options that
    size them."""
    sizes, images = (data[0].shape[1], *hp['n_hidden_layers']), len(data[0]) + len(data[1])
    params = 2 * sum(a * b + b for a, b in zip(sizes, sizes[1:]))  # the stack's, mirrored
    return (bytes_needed(params, sizes + sizes[-2::-1], hp['batchsize'], max(sizes[1:]) * images),
            ('n_hidden_layers', 'batchsize'))


def main(hp):
    """The post's __main__: the data, the DAE, its trainer, pre_training, fine_tuning, the
    pictures; the machinery around them one call each to a lab.run.Run."""
    if hp['pretrain_corruption_ratio'] == hp['corruption_ratio']:  # the default, said once:
        hp = dict(hp, pretrain_corruption_ratio=None)              # the same run, the same name
    run = Run(__file__, hp)
    data = run.data(load_mnist)  # [train, test]
    run.fits(*memory(hp, data))  # refused here if the machine has not the memory it needs
    dae = model(hp, n_inputs=data[0].shape[1])
    train_dae = Train_DAE(
        tt_data=data, model=dae, corruption_ratio=hp['corruption_ratio'], rng=hp['seed'],
        optimizer=get_optimizer(hp['optimizer'], hp['lr']), loss=hp['loss'], comm=run.comm,
        lr_decay=hp['lr_decay'], pretrain_corruption_ratio=hp['pretrain_corruption_ratio'],
        weight_decay=hp['weight_decay'], momentum_max=hp['momentum_max'], device=run.device)
    unused = ('pretrain_epoch', 'pretrain_corruption_ratio') if hp['no_pretraining'] else ()
    name = run.full_name(('DAE_nopretrain_' if hp['no_pretraining'] else 'DAE_')
                    + train_dae.condition_to_string(hp['finetune_epoch']), SHOWN + unused)
    with run.training(train_dae, name):
        if not (hp['no_pretraining'] or train_dae.pretrained):
            train_dae.pre_training(epoch=hp['pretrain_epoch'], batchsize=hp['batchsize'],
                                   log=run.log, after_epoch=run.save)
        train_dae.fine_tuning(epoch=hp['finetune_epoch'], batchsize=hp['batchsize'], log=run.log,
                              after_epoch=run.save)
    run.save_outputs(dae.weight_pictures(), save_images, save_loss_curves)  # layer1.png, ...
    return train_dae


# Hyperparameters: the original's deep-autoencoder experiment. Edit them here, or give any of
# them on the command line (python deep_autoencoder.py --help): each comment is its help.
HYPERPARAMETERS = dict(
    # --- model ---
    n_hidden_layers=(10 * 10, 5 * 5),  # hidden sizes inwards, mirrored: 784-100-25-100-784
    activate='sigmoid',     # activation after every layer
    code_activate=None,     # the code layer's own activation; None: the same as activate
    dropout_ratio=.1,       # dropout on every hidden layer while training, in [0, 1)
    init='lecun',           # initial weights: lecun (LeCun normal) or sparse (Martens 2010)
    # --- training ---
    optimizer='Adam',       # a chainer.optimizers class: Adam, AdaDelta, SGD, NesterovAG, ...
    lr=None,                # the optimizer's learning rate (Adam's alpha); None: Chainer's default
    lr_decay=1.,            # the learning rate is multiplied by this after every epoch
    weight_decay=0.,        # L2 in fine-tuning: this times each parameter added to its gradient
    momentum_max=None,      # NesterovAG, MomentumSGD: momentum raised to this as Sutskever et
                            # al. 2013 did; None: the optimizer's own, constant
    loss='mse',             # training loss: mse, or bce (cross-entropy of a sigmoid output
                            # layer); the losses printed are the MSE either way
    corruption_ratio=.3,    # masking noise on the input of every autoencoder, in [0, 1)
    pretrain_corruption_ratio=None,  # masking noise in pretraining only; None: the same
    pretrain_epoch=20,      # pretraining epochs per layer
    finetune_epoch=10,      # fine-tuning epochs of the whole stack
    no_pretraining=False,   # fine-tune from random initial weights: what pretraining buys
    batchsize=100,          # minibatch size
    seed=71,                # seed of the weights, the dropout masks, the shuffles and the noise
)


if __name__ == '__main__':
    with cli.command():  # its errors in one line each, its exit status (lab.cli.EXIT)
        hp = cli.parse(HYPERPARAMETERS, longer='finetune_epoch')
        main(hp)
