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
import sys

import chainer_compat  # noqa: F401  (before Chainer: what it needs of NumPy 2, Python 3.12+)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers, optimizers

import runner
import utils
from kernels import linear_activation
from autoencoder import NAMED_IF_CHANGED as AE_NAMED_IF_CHANGED
from autoencoder import (ACTIVATIONS, AutoEncoder, Train_AutoEncoder, activations_to_string,
                         add_training_options, check_training, dropout, get_activation,
                         get_optimizer, inference, percent)
from utils import ConfigError


INITS = ('lecun', 'sparse')  # the initial weights: LeCun normal, or sparse (Martens 2010)


class Sparse(chainer.initializer.Initializer):
    """Sparse initialisation (Martens, ICML 2010; Sutskever et al., ICML 2013): each unit gets
    `nonzero` incoming weights drawn from a unit Gaussian (all of them if it has fewer
    inputs), the others 0. `rng`: a NumPy Generator."""

    def __init__(self, rng, nonzero=15):
        super().__init__(dtype=np.float32)
        self.rng, self.nonzero = rng, nonzero

    def __call__(self, array):
        n_out, n_in = array.shape
        w = np.zeros((n_out, n_in), np.float32)
        k = min(self.nonzero, n_in)
        for row in w:
            row[self.rng.choice(n_in, k, replace=False)] = self.rng.standard_normal(k)
        array[...] = w


def check_sizes(n_hidden_layers):
    sizes = tuple(n_hidden_layers) if isinstance(n_hidden_layers, (list, tuple)) else None
    if not sizes:
        raise ConfigError(f'n_hidden_layers must be a non-empty list of layer sizes, '
                          f'got {n_hidden_layers!r}')
    return tuple(utils.check_int(f'n_hidden_layers[{i}]', n) for i, n in enumerate(sizes))


class DAE(chainer.Chain):
    """The unrolled stack: links l1..l2k for k hidden sizes; the two-size case is the original.

    corruption_ratio is recorded in to_string() as the original did; the noise itself is
    the trainer's. `seed` fixes the initial weights and the dropout masks; `init` is how the
    weights start: 'lecun' (LeCun normal) or 'sparse' (see Sparse; biases 0 either way).
    `activate` is f of every layer; code_activate (the innermost layer's) and
    output_activate (the reconstruction's), default `activate`, set those two on their own."""

    def __init__(self, n_inputs=784, n_hidden_layers=(784, 100), activate=F.sigmoid,
                 dropout_ratio=.1, corruption_ratio=.0, seed=0, code_activate=None,
                 output_activate=None, init='lecun'):
        super().__init__()
        self.n_inputs = utils.check_int('n_inputs', n_inputs)
        self.n_hidden_layers = check_sizes(n_hidden_layers)
        self.activate = get_activation(activate)
        self.code_activate = get_activation(code_activate or activate, 'code_activate')
        self.output_activate = get_activation(output_activate or activate, 'output_activate')
        k = len(self.n_hidden_layers)  # the activation of each link, l1 .. l2k
        self.activations = ([self.activate] * (k - 1) + [self.code_activate]
                            + [self.activate] * (k - 1) + [self.output_activate])
        self.dropout_ratio = utils.check_ratio('dropout_ratio', dropout_ratio)
        self.corruption_ratio = utils.check_ratio('corruption_ratio', corruption_ratio)
        self.rng = utils.make_rng('seed', seed)
        self.init = utils.check_choice('init', init, INITS)
        weights = (lambda: Sparse(self.rng)) if init == 'sparse' else (
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

    def forward(self, x, hidden=False, logits=False):
        """The reconstruction (logits=True: before the output activation), or hidden=True:
        the code."""
        h, layers = x, self.layers
        for i, (link, f) in enumerate(zip(layers, self.activations), 1):
            if logits and i == len(layers):
                f = F.identity
            h = linear_activation(h, link, f)  # f(link(h)), fused
            if i < len(layers):
                h = dropout(h, self.dropout_ratio, self.rng)
            if hidden and i == len(self.n_hidden_layers):
                return h
        return h

    def to_string(self):
        return (''.join(f'nhidden{i}={n}' for i, n in enumerate(self.n_hidden_layers, 1))
                + f'corp={percent(self.corruption_ratio)}activate={self.activate.__name__}'
                + activations_to_string(self))

    def features_in_pixels(self, layer):
        """The product of the weight matrices l_layer.W @ ... @ l1.W, one row per unit of encoder
        layer `layer`, as wide as the input. It ignores the activations and the biases: a linear
        picture of each unit's weights in pixel space, not what the unit computes."""
        w = self.l1.W.array
        for link in self.layers[1:layer]:
            w = link.W.array @ w
        return w  # on the model's device

    def weight_pictures(self):
        """{file suffix: rows to tile}: every encoder layer's weights, and from the second layer
        on their product with the layers below (features_in_pixels)."""
        k = len(self.n_hidden_layers)
        pictures = {f'layer{i}.png': link.W.array for i, link in enumerate(self.layers[:k], 1)}
        pictures.update({f'layer{i}_in_pixels.png': self.features_in_pixels(i)
                         for i in range(2, k + 1)})
        return pictures


class Train_DAE(Train_AutoEncoder):
    """Greedy layer-wise pretraining (pre_training), then end-to-end training (fine_tuning).

    Pretraining uses the same optimizer, learning rate schedule and dropout; its masking
    noise is pretrain_corruption_ratio (default: corruption_ratio, as the original);
    `weight_decay` is fine-tuning's alone. The first layer's autoencoder is trained on
    `loss`, the ones above it on the MSE of codes.

    Snapshots (Chainer's save_npz / load_npz of the trainer) hold the pretraining layers
    too, so an interrupted run continues in the layer and minibatch where it stopped."""

    def __init__(self, tt_data, model, corruption_ratio=.3, optimizer=optimizers.Adam, rng=71,
                 device=None, comm=None, loss='mse', lr_decay=1., pretrain_corruption_ratio=None,
                 weight_decay=0., momentum_max=None):
        self._optimizer = copy.deepcopy(get_optimizer(optimizer))  # a fresh one per layer
        super().__init__(tt_data, model, corruption_ratio=corruption_ratio, rng=rng,
                         optimizer=optimizer, device=device, comm=comm, loss=loss,
                         lr_decay=lr_decay, weight_decay=weight_decay,
                         momentum_max=momentum_max)
        self.pretrain_corruption_ratio = utils.check_ratio(
            'pretrain_corruption_ratio',
            corruption_ratio if pretrain_corruption_ratio is None else pretrain_corruption_ratio)
        self.pretrainers = []  # one Train_AutoEncoder per hidden layer, with its loss history
        self.pretrained = False

    def pretrainer(self, layer, seed):
        """The autoencoder of hidden layer `layer` (from 1) and its trainer, on the codes of
        the layers below it. It shares this trainer's generator, device and communicator."""
        model, data = self.model, [self.train, self.test]
        for link, f in zip(model.layers[:layer - 1], model.activations):  # in eval mode
            data = [inference(lambda batch: linear_activation(batch, link, f), x, 10000)
                    for x in data]
        autoencoder = AutoEncoder(data[0].shape[1], model.n_hidden_layers[layer - 1],
                                  dropout_ratio=model.dropout_ratio, activate=model.activate,
                                  code_activate=model.activations[layer - 1],
                                  output_activate=model.activations[-layer], seed=seed)
        return Train_AutoEncoder([runner.HOST.send(x) for x in data], autoencoder,
                                 corruption_ratio=self.pretrain_corruption_ratio, rng=self.rng,
                                 optimizer=copy.deepcopy(self._optimizer), device=self.device,
                                 comm=self.comm, loss=self.loss if layer == 1 else 'mse',
                                 lr_decay=self.lr_decay, momentum_max=self.momentum_max)

    def pre_training(self, epoch=5, batchsize=100, log=print, after_epoch=None):
        """Train one AutoEncoder per hidden size, `epoch` epochs each, on the codes of the
        previous one, then copy encoder i into l_i and decoder i into the mirrored link.
        A trainer resumed from a snapshot goes on where it stopped."""
        utils.check_int('epoch', epoch)
        runner.check_batchsize(batchsize, self.comm)
        if self.pretrained:  # again, from the start
            self.pretrainers, self.pretrained = [], False
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

    def serialize(self, serializer):
        super().serialize(serializer)
        n = serializer('pretrainers', len(self.pretrainers))
        self.pretrained = bool(serializer('pretrained', self.pretrained))
        if isinstance(serializer, chainer.serializer.Deserializer):
            self.pretrainers = [self.pretrainer(i, seed=0) for i in range(1, n + 1)]
        for i, trainer in enumerate(self.pretrainers, 1):
            trainer.serialize(serializer[f'pretrain{i}'])


# ---------------------------------------------------------------- the run and its command line

# As autoencoder.py's (the original's values), and the pretraining of the original's runs.
NAMED_IF_CHANGED = dict(AE_NAMED_IF_CHANGED, seed=71, pretrain_epoch=20,
                        pretrain_corruption_ratio=None, init='lecun', dropout_ratio=.1)


def run(n_hidden_layers, dropout_ratio, activate, optimizer, corruption_ratio, pretrain_epoch,
        finetune_epoch, no_pretraining, batchsize, seed, dataset, out, device='@numpy',
        communicator=None, resume=None, split='random', code_activate=None, loss='mse', lr=None,
        lr_decay=1., pretrain_corruption_ratio=None, split_seed=1, init='lecun', weight_decay=0.,
        momentum_max=None):
    """What `python deep_autoencoder.py` does: check everything, load, train, write outputs."""
    if pretrain_corruption_ratio == corruption_ratio:
        pretrain_corruption_ratio = None  # the default, said once: the same run, the same name
    arguments = {k: v for k, v in locals().items() if k != 'resume'}
    check_sizes(n_hidden_layers)
    utils.check_choice('init', init, INITS)
    for name, value in (('pretrain_epoch', pretrain_epoch), ('finetune_epoch', finetune_epoch)):
        utils.check_int(name, value)
    check_training(dropout_ratio, activate, optimizer, corruption_ratio, code_activate, loss, lr,
                   lr_decay, weight_decay, momentum_max)
    if pretrain_corruption_ratio is not None:
        utils.check_ratio('pretrain_corruption_ratio', pretrain_corruption_ratio)
    data, device, comm, description, out_dir = runner.prepare(
        dataset, seed, device, communicator, batchsize, out, split, split_seed)
    model = build_model(data[0].shape[1], arguments)
    trainer = Train_DAE(data, model, corruption_ratio=corruption_ratio,
                        optimizer=get_optimizer(optimizer, lr), rng=seed, device=device,
                        comm=comm, loss=loss, lr_decay=lr_decay,
                        pretrain_corruption_ratio=pretrain_corruption_ratio,
                        weight_decay=weight_decay, momentum_max=momentum_max)
    trainer.config = dict(script='deep_autoencoder.py', arguments=arguments, dataset=description)
    unused = ('pretrain_epoch', 'pretrain_corruption_ratio') if no_pretraining else ()
    named = dict(arguments, **{k: NAMED_IF_CHANGED[k] for k in unused})  # not in the name
    name = (('DAE_nopretrain_' if no_pretraining else 'DAE_')
            + trainer.condition_to_string(finetune_epoch)
            + runner.name_suffix(named, NAMED_IF_CHANGED, comm))

    def train(save):
        log = print if out_dir else None
        if not (no_pretraining or trainer.pretrained):
            trainer.pre_training(pretrain_epoch, batchsize, log, after_epoch=save)
        trainer.fine_tuning(finetune_epoch, batchsize, log, after_epoch=save)

    snapshot = runner.train_with_snapshots(trainer, out_dir, name, resume, train)
    if out_dir:  # the only process, or rank 0 of an MPI job
        curves = {f'pretrain layer {i} {part}': losses
                  for i, t in enumerate(trainer.pretrainers, 1)
                  for part, losses in (('train', t.loss_values), ('test', t.test_loss_values))}
        curves.update({'fine-tune train': trainer.loss_values,
                       'fine-tune test': trainer.test_loss_values})
        record = dict(trainer.config,
                      pretrain_loss_values=[t.loss_values for t in trainer.pretrainers],
                      pretrain_test_loss_values=[t.test_loss_values for t in trainer.pretrainers],
                      pretrain_seconds_per_epoch=[t.seconds for t in trainer.pretrainers])
        runner.save_outputs(trainer, out_dir, name, record, model.weight_pictures(), curves)
        runner.done(snapshot)
    trainer.name = name
    return trainer


def build_model(n_inputs, arguments):
    """The DAE of a run's arguments (those of run(), as run.json records them)."""
    a = arguments
    return DAE(n_inputs, a['n_hidden_layers'], activate=a['activate'],
               dropout_ratio=a['dropout_ratio'], corruption_ratio=a['corruption_ratio'],
               seed=a['seed'], code_activate=a['code_activate'],
               output_activate='sigmoid' if a['loss'] == 'bce' else None,
               init=a['init'])


def main(argv, defaults):
    return runner.run_cli(argument_parser(defaults), run, argv, longer='finetune_epoch')


def argument_parser(defaults):
    """The command line, its defaults `defaults` (search.py reads a script's options here)."""
    p = runner.parser(__doc__, 'deep_autoencoder.py')
    model = p.add_argument_group('model')
    model.add_argument('--n-hidden-layers', type=int, nargs='+', metavar='N',
                       default=defaults['n_hidden_layers'],
                       help='hidden sizes from the input inwards, e.g. 784 100 (mirrored outwards)')
    model.add_argument('--activate', default=defaults['activate'], choices=sorted(ACTIVATIONS),
                       help='activation after every layer')
    model.add_argument('--code-activate', default=defaults['code_activate'],
                       choices=sorted(ACTIVATIONS),
                       help="the code layer's own activation; None: the same as --activate")
    model.add_argument('--dropout-ratio', type=float, default=defaults['dropout_ratio'],
                       help='dropout on every hidden layer while training, in [0, 1)')
    model.add_argument('--init', default=defaults['init'], choices=INITS,
                       help='initial weights: lecun (LeCun normal) or sparse (15 non-zero '
                            'incoming weights a unit from a unit Gaussian; Martens 2010); '
                            'biases 0')
    training = p.add_argument_group('training')
    add_training_options(training, defaults)
    training.add_argument('--corruption-ratio', type=float, default=defaults['corruption_ratio'],
                          help='masking noise on the input of every autoencoder, in [0, 1)')
    training.add_argument('--pretrain-corruption-ratio', type=float,
                          default=defaults['pretrain_corruption_ratio'],
                          help='masking noise in pretraining only; None: the same as --corruption-ratio')
    training.add_argument('--pretrain-epoch', type=int, default=defaults['pretrain_epoch'],
                          help='pretraining epochs per layer')
    training.add_argument('--finetune-epoch', type=int, default=defaults['finetune_epoch'],
                          help='fine-tuning epochs of the whole stack')
    training.add_argument('--no-pretraining', action='store_true',
                          default=defaults['no_pretraining'],
                          help='skip pretraining: fine-tune from random initial weights, to see '
                               'what pretraining buys')
    training.add_argument('--batchsize', type=int, default=defaults['batchsize'],
                          help='minibatch size')
    training.add_argument('--seed', type=int, default=defaults['seed'],
                          help='seed of the initial weights, the dropout masks, the shuffles and '
                               'the noise')
    return runner.add_run_options(p, defaults)


# Hyperparameters: the original's deep-autoencoder experiment. Edit them here, or
# override any of them on the command line (python deep_autoencoder.py --help).
HYPERPARAMETERS = dict(
    n_hidden_layers=(10 * 10, 5 * 5),  # hidden sizes inwards: 784 -> 100 -> 25 -> 100 -> 784
    dropout_ratio=.1,       # dropout on every hidden layer while training
    activate='sigmoid',     # sigmoid | relu | tanh | identity, after every layer
    code_activate=None,     # the code layer's own activation; None: activate
    optimizer='Adam',       # any chainer.optimizers class name
    lr=None,                # learning rate (Adam's alpha); None: Chainer's default
    lr_decay=1.,            # learning rate times this after every epoch
    weight_decay=0.,        # L2 in fine-tuning: this times each parameter added to its gradient
    momentum_max=None,      # NesterovAG, MomentumSGD: momentum raised to this; None: constant
    loss='mse',             # mse | bce (cross-entropy; the output becomes sigmoid)
    corruption_ratio=.3,    # masking noise on the input of every autoencoder
    pretrain_corruption_ratio=None,  # masking noise in pretraining; None: the same
    pretrain_epoch=20,      # epochs per layer of greedy pretraining
    no_pretraining=False,   # True: no pretraining, fine-tuning from random initial weights
    init='lecun',           # initial weights: lecun | sparse (15 non-zero inputs a unit)
    finetune_epoch=10,      # epochs of end-to-end fine-tuning
    batchsize=100,          # minibatch size
    seed=71,                # seed of the weights, dropout masks, shuffles and noise
    dataset='auto',         # auto | mnist | digits (auto: MNIST if available)
    split='random',         # random: the original's 75/25; official: MNIST's 60k/10k;
                            # validation: MNIST's training set split 50k / 10k
                            # (choosing settings without touching the test set)
    split_seed=1,           # seed of the random split (as autoencoder.py's)
    out='results',          # outputs go to results/<dataset>/
    device='@numpy',        # @numpy: the CPU; @cupy:0: the first GPU (needs CuPy)
    communicator=None,      # e.g. 'naive', under mpiexec -n N: data-parallel (ChainerMN)
)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:], HYPERPARAMETERS))
