"""Every option of the research scripts, checked in one table.

An option is described once: its default and its help are a line of the script's
HYPERPARAMETERS block (the value and its comment), its type is its default's, and its check is
its entry in CHECKS below (with RULES for the options that depend on one another). The
command line (lab.cli), the checks before any data are loaded (check), the checks of the
models' and trainers' own arguments and search.py's check of its space all use this table.

Bad input is a ConfigError naming the parameter and the value; on the command line lab.cli
names the option instead (dropout_ratio -> --dropout-ratio).
"""
import copy

import numpy as np

ACTIVATIONS = ('identity', 'relu', 'sigmoid', 'tanh')  # chainer.functions of those names
LOSSES = ('mse', 'bce')  # the training loss; the reported one is always the MSE
INITS = ('lecun', 'sparse')  # the initial weights: LeCun normal, or sparse (Martens 2010)
DATASETS = ('auto', 'mnist', 'digits')
SPLITS = ('random', 'official', 'validation')
COMMUNICATORS = ('naive', 'flat', 'hierarchical', 'two_dimensional', 'single_node',
                 'non_cuda_aware', 'pure_nccl')  # chainermn.create_communicator's names


class ConfigError(ValueError):
    """Bad input found before any work starts: the message names the parameter and the value."""


# ---------------------------------------------------------------- the checks

def check_int(name, value, minimum=1):
    return int(of_type(name, value, int, minimum, words=f'>= {minimum}'))


def check_ratio(name, value):
    return float(of_type(name, value, float, 0, 1, (True, False), 'in [0, 1)'))


def check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f'{name} must be one of {", ".join(map(str, choices))}; got {value!r}')
    return value


def make_rng(name, seed):
    """A NumPy Generator from a seed (an integer >= 0), or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int(name, seed, minimum=0))


def number(name, value, low, high, words, closed=True):
    """A number in (low, high] (closed=False: (low, high)) as a float, or a ConfigError saying
    it must be `words`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high \
            or not closed and value == high:
        raise ConfigError(f'{name} must be {words}, got {value!r}')
    return float(value)


def of_type(name, value, kind, low=-float('inf'), high=float('inf'), closed=(True, True),
            words=''):
    """A value of type `kind` (a number: within low..high, each end closed or not, said by
    `words`: 'in [0, 1)', '>= 0'), or a ConfigError saying what it must be."""
    number = kind in (int, float) and not isinstance(value, (bool, np.bool_)) and isinstance(
        value, (int, np.integer) if kind is int else (int, float, np.integer, np.floating))
    inside = number and (low < value or closed[0] and value == low) and (
        value < high or closed[1] and value == high)
    if kind in (int, float) and not inside:
        what = 'an integer' if kind is int else 'a number'
        raise ConfigError(f'{name} must be {what}{" " * bool(words)}{words}, got {value!r}')
    if kind not in (int, float) and not isinstance(value, (list, tuple) if kind in (
            list, tuple) else kind):
        raise ConfigError(f'{name} must be of type {kind.__name__}, got {value!r}')
    return value


def check_channels(name, channels):
    """The feature maps of a convolutional autoencoder's two convolutions (C1, C2)."""
    sizes = check_sizes(name, channels)
    if len(sizes) != 2:
        raise ConfigError(f'{name} must be two sizes (C1, C2), got {channels!r}')
    return sizes


def check_data(name, x, n_inputs):
    """A 2-D, finite, non-empty float32 array of width n_inputs."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ConfigError(f'{name} must be a non-empty 2-D array (samples, features), '
                          f'got shape {x.shape}')
    if x.shape[1] != n_inputs:
        raise ConfigError(f'{name} has {x.shape[1]} features per sample but the model '
                          f'has n_inputs={n_inputs}')
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ConfigError(f'{name} contains NaN or infinite values')
    return x


def check_sizes(name, sizes):
    """Layer sizes: a non-empty list or tuple of integers >= 1."""
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise ConfigError(f'{name} must be a non-empty list of layer sizes, got {sizes!r}')
    return tuple(check_int(f'{name}[{i}]', n) for i, n in enumerate(sizes))


def get_activation(activate, name='activate'):
    """A Chainer function, or its name: sigmoid, relu, tanh, identity."""
    import chainer.functions as F
    if isinstance(activate, str):
        return getattr(F, check_choice(name, activate, ACTIVATIONS))
    if not callable(activate):
        raise ConfigError(f'{name} must be a function or one of {", ".join(ACTIVATIONS)}; '
                          f'got {activate!r}')
    return activate


def optimizers():
    """{name: class} of chainer.optimizers."""
    import chainer
    from chainer import optimizers as module
    return {name: cls for name, cls in vars(module).items()
            if isinstance(cls, type) and issubclass(cls, chainer.Optimizer)}


def learning_rate_name(optimizer):
    """The optimizer's learning-rate hyperparameter: Adam's alpha, the others' lr; None for
    those without one (AdaDelta)."""
    names = optimizer.hyperparam.get_dict()
    return next((name for name in ('alpha', 'lr') if name in names), None)


def get_optimizer(optimizer, lr=None):
    """A new chainer.optimizers instance from a class (as the original), a name, or an
    instance not yet set up (a copy of it, with the same hyperparameters; the caller's object
    is left as it is), in its fused form where lab.kernels has one. `lr`: its learning rate
    (Adam's alpha), default the optimizer's own. One already set up is returned as it is."""
    import chainer

    from lab import kernels
    if isinstance(optimizer, str):
        optimizer = optimizers()[check_choice('optimizer', optimizer, sorted(optimizers()))]
    if isinstance(optimizer, type) and issubclass(optimizer, chainer.Optimizer):
        optimizer = optimizer()
    elif isinstance(optimizer, chainer.Optimizer) and getattr(optimizer, 'target', None) is None:
        optimizer = copy.deepcopy(optimizer)
    if not isinstance(optimizer, chainer.Optimizer):
        raise ConfigError(f'optimizer must be a chainer.optimizers class, instance or name '
                          f'({", ".join(sorted(optimizers()))}); got {optimizer!r}')
    if lr is not None:
        lr = LR('lr', lr)
        name = learning_rate_name(optimizer)
        if name is None:
            raise ConfigError(f'lr: {type(optimizer).__name__} has no learning rate; '
                              f'leave lr unset or choose e.g. Adam, SGD, MomentumSGD')
        setattr(optimizer.hyperparam, name, lr)
    return kernels.fused(optimizer)


def check_lr_decay(lr_decay, optimizer):
    """The factor applied to the optimizer's learning rate after every epoch."""
    lr_decay = LR_DECAY('lr_decay', lr_decay)
    if lr_decay != 1 and learning_rate_name(optimizer) is None:
        raise ConfigError(f'lr_decay: {type(optimizer).__name__} has no learning rate to decay; '
                          f'leave lr_decay at 1')
    return lr_decay


def check_momentum_max(momentum_max, optimizer):
    """None (the optimizer's own, constant momentum) or a ceiling in (0, 1) for an optimizer
    that has a momentum."""
    if momentum_max is None:
        return None
    MOMENTUM('momentum_max', momentum_max)
    if 'momentum' not in optimizer.hyperparam.get_dict():
        raise ConfigError(f'momentum_max: {type(optimizer).__name__} has no momentum; choose '
                          f'NesterovAG or MomentumSGD, or leave momentum_max unset')
    return float(momentum_max)


def check_weight_decay(name, value):
    return float(of_type(name, value, float, 0, closed=(True, False), words='>= 0'))


def check_split(split, dataset):
    """The split's name; 'official' needs MNIST (the digits have no split of their own)."""
    check_choice('split', split, SPLITS)
    if split == 'official' and dataset == 'digits':
        raise ConfigError(f"split={split!r} is made from MNIST's own 60,000/10,000 split; the "
                          f"digits data set has none: use split='random' or dataset='mnist'")
    return split


# ---------------------------------------------------------------- the table

def entry(check, type=None, choices=None):
    """A check (name, value) -> value, with what the command line needs where the default
    does not say it (its type when the default is None, argparse's choices)."""
    check.type, check.choices = type, choices
    return check


def optional(inner):
    """None, or what `inner` accepts."""
    return entry(lambda name, v: None if v is None else inner(name, v), inner.type,
                 inner.choices)


def choice(values):
    return entry(lambda name, v: check_choice(name, v, values), str, values)


COUNT, SEED = entry(check_int, int), entry(lambda name, v: check_int(name, v, 0), int)
RATIO = entry(check_ratio, float)
LR = entry(lambda name, v: number(name, v, 0, float('inf'), 'a positive number'), float)
LR_DECAY = entry(lambda name, v: number(name, v, 0, 1, 'a factor in (0, 1]'), float)
MOMENTUM = entry(lambda name, v: number(name, v, 0, 1, 'a number in (0, 1)', closed=False), float)
ACTIVATION = entry(lambda name, v: get_activation(v, name) and v, str, ACTIVATIONS)
CHECKS = {  # option: its check
    'n_hidden': COUNT, 'epoch': COUNT, 'pretrain_epoch': COUNT, 'finetune_epoch': COUNT,
    'batchsize': COUNT, 'seed': SEED, 'split_seed': SEED,
    'n_hidden_layers': entry(check_sizes, int), 'channels': entry(check_channels, int),
    'dropout_ratio': RATIO, 'corruption_ratio': RATIO, 'pretrain_corruption_ratio': optional(RATIO),
    'activate': ACTIVATION, 'code_activate': optional(ACTIVATION),
    'tied': entry(lambda name, v: bool(v)), 'no_pretraining': entry(lambda name, v: bool(v)),
    'init': choice(INITS), 'loss': choice(LOSSES),
    'optimizer': entry(lambda name, v: get_optimizer(v) and v, str),
    'lr': optional(LR), 'lr_decay': LR_DECAY, 'momentum_max': optional(MOMENTUM),
    'weight_decay': entry(check_weight_decay, float),
    'dataset': choice(DATASETS), 'split': choice(SPLITS), 'out': entry(lambda name, v: v, str),
    'device': entry(lambda name, v: v, str), 'communicator': optional(choice(COMMUNICATORS)),
}
RULES = {  # the checks of options that depend on one another, after each one's own
    ('optimizer', 'lr'): lambda a: get_optimizer(a['optimizer'], a['lr']),
    ('optimizer', 'lr_decay'): lambda a: check_lr_decay(a['lr_decay'],
                                                        get_optimizer(a['optimizer'])),
    ('optimizer', 'momentum_max'): lambda a: check_momentum_max(a['momentum_max'],
                                                                get_optimizer(a['optimizer'])),
    ('split', 'dataset'): lambda a: check_split(a['split'], a['dataset']),
}


def check(arguments, rules=True, checks=CHECKS):
    """Every option of `arguments` ({option: value}) by its entry in `checks` (a script's:
    lab.cli.checks), then (with `rules`) RULES, before any data are loaded: the first that
    fails raises a ConfigError naming it. Returns `arguments`."""
    for name, value in arguments.items():
        if name in checks:
            checks[name](name, value)
    for names, rule in RULES.items() if rules else ():
        if all(name in arguments for name in names):
            rule(arguments)
    return arguments
