"""Snapshots: a trainer's whole state in one file, from which training goes on exactly.

serialize   the trainers' serializer protocol: model, optimizer, generators, histories, the
            place in the current epoch (Chainer's save_npz / load_npz of a trainer)
save, resume_from, read_config, progress    the files themselves: a trainer and the
            configuration of its run (lab.run), which the trainer does not hold
resumed_arguments   what `--resume SNAPSHOT` runs with: the snapshot's own arguments
"""
import json
import os

import chainer
import numpy as np

from lab.files import atomic_path
from lab.options import ConfigError

STATE = ('epoch', 'loss_values', 'test_loss_values', 'seconds', 'position')


def serialize(trainer, serializer):
    """Chainer's serializer protocol for a trainer (save_npz / load_npz): everything needed to
    go on. Its generators are set in place (the pretrainers of a deep one share them)."""
    trainer.model.serialize(serializer['model'])
    # Chainer cannot load the state of an optimizer that has not updated yet (a DAE's,
    # during pretraining): that one is left out, as it holds nothing.
    if serializer('optimizer_used', trainer.optimizer.t > 0):
        trainer.optimizer.serialize(serializer['optimizer'])
    state = {key: getattr(trainer, key) for key in STATE}
    state.update(rng=trainer.rng.bit_generator.state,
                 model_rng=trainer.model.rng.bit_generator.state)
    state = json.loads(serializer('state', json.dumps(state)))
    order = serializer('order', None if isinstance(serializer, chainer.serializer.Deserializer)
                       else np.zeros(0, np.int64) if trainer.order is None else trainer.order)
    trainer.order = order if len(order) else None
    for key in STATE:
        setattr(trainer, key, state[key])
    trainer.rng.bit_generator.state = state['rng']
    trainer.model.rng.bit_generator.state = state['model_rng']


class Snapshot:
    """What a snapshot file holds: a trainer, and `config`, its run's configuration (script,
    arguments, data, machines; snapshots written before it was kept apart hold it in the
    trainer's state)."""

    def __init__(self, trainer, config):
        self.trainer, self.config = trainer, config

    def serialize(self, serializer):
        self.trainer.serialize(serializer)
        self.config = json.loads(serializer('config', json.dumps(self.config)))


def path(out_dir, name):
    """Where a run's snapshot is: its own name (every setting of a run is in it)."""
    return os.path.join(out_dir, name + 'snapshot.npz')


def save(trainer, path, config):
    with atomic_path(path) as tmp:
        chainer.serializers.save_npz(tmp, Snapshot(trainer, config))


def progress(path):
    """How far the training in a snapshot got, in words: 'epoch 3 done', 'pretraining layer 2,
    epoch 5 done'."""
    try:
        with np.load(path) as f:
            state = lambda key: json.loads(str(f[key]))  # noqa: E731
            epoch, n = state('state')['epoch'], int(f['pretrainers']) if 'pretrainers' in f else 0
            if epoch or not n:
                return f'{"fine-tuning " if n else ""}epoch {epoch} done'
            return f'pretraining layer {n}, epoch {state(f"pretrain{n}/state")["epoch"]} done'
    except Exception:  # unreadable: say nothing of it
        return 'its progress unreadable'


def read_config(path):
    """The configuration a snapshot was made with (its script, arguments and data)."""
    try:
        with np.load(path) as f:
            if 'config' in f:
                return json.loads(str(f['config']))
            return json.loads(str(f['state']))['config']
    except Exception as e:  # missing, truncated, not ours
        raise ConfigError(f'resume: {path!r} is not a readable snapshot '
                          f'({type(e).__name__}: {e})') from None


def resume_from(trainer, path, config):
    """Load a snapshot into a trainer built with the snapshot's own arguments (but for a
    longer run, see resumed_arguments), for a run of configuration `config` on the same data;
    returns the snapshot's configuration (its `trained_on`: the stacks the training so far was
    computed on; absent in snapshots from before they were kept)."""
    theirs = read_config(path)
    if theirs['dataset'] != config['dataset']:
        raise ConfigError(f'resume: the snapshot {path!r} was made on data {theirs["dataset"]}, '
                          f'but the data now is {config["dataset"]}')
    try:
        chainer.serializers.load_npz(path, trainer)  # its config aside
    except Exception as e:
        raise ConfigError(f'resume: {path!r} is not a readable snapshot '
                          f'({type(e).__name__}: {e})') from None
    print(f'resumed from {path}')
    return theirs


def resumed_arguments(script, path, given, longer, parsed):
    """The arguments of the snapshot at `path` for `script`, with the options `given` beside
    --resume checked against them: `longer` (the epoch option) may grow, and the run goes on
    to that many epochs; any other difference is refused, naming the option. An option the
    snapshot does not record (added since) takes its value in `parsed`, the command line's."""
    config = read_config(path)
    if config['script'] != script:
        raise ConfigError(f'resume: {path!r} is a snapshot of {config["script"]}, not of {script}')
    arguments = {**{k: v for k, v in parsed.items() if k != 'resume'}, **config['arguments']}
    flag = lambda key: '--' + key.replace('_', '-')  # noqa: E731
    differ = {key: value for key, value in given.items()
              if key != 'resume' and key in arguments and value != arguments[key]
              and not (isinstance(value, list) and list(arguments[key]) == value)}
    refused = [key for key, value in differ.items()
               if key != longer or not value > arguments[key]]
    if refused:
        key = refused[0]
        raise ConfigError(
            f'resume: {flag(key)} {differ[key]!r} differs from the snapshot\'s {arguments[key]!r}; '
            f'a snapshot continues with its own settings (only {flag(longer)} may grow, to train '
            f'on)')
    if differ:
        print(f'resume: {flag(longer)} {differ[longer]} instead of the snapshot\'s '
              f'{arguments[longer]}: training goes on to {differ[longer]} epochs')
    return dict(arguments, **differ, resume=path)
