"""One run of a research script, from its checked options to its written outputs.

A script's main() makes one Run and calls it once for each part of the machinery:

    run = Run(__file__, hp)                      # options checked; device, MPI, output folder
    data = run.data(load_mnist)                  # [train, test] of this process
    ...                                          # the model and its trainer
    name = run.full_name(original, SHOWN)        # the original's name and what it leaves out
    with run.training(trainer, name):            # lock, resume, Ctrl-C, snapshots
        trainer.train_to(..., after_epoch=run.save)
    run.save_outputs(pictures, save_images, save_loss_curves)  # pictures, model, run.json

What the run writes into OUT/<dataset>/, each file named <name><suffix>: docs/usage.md's table
(OUTPUTS, and the model's pictures). In an MPI job only rank 0 writes, and there are no
snapshots.
"""
import contextlib
import hashlib
import json
import os
import re
import sys

import numpy as np

from lab import cli, devices, lock, machine, options, signals, snapshots
from lab.files import WriteError, atomic_path, check_writable_dir, read_json, write_json
from lab.trainer import EVALUATION_BATCH, Diverged

OUTPUTS = ('loss.png', 'reconstruction.png', 'model.npz', 'run.json', 'snapshot.npz',
           'log.json')


class Run:
    """A run of the research script at `path` with the settings `hp`: its HYPERPARAMETERS'
    keys, lab.cli.OPTIONS' (default: OPTIONS) and `resume` (a snapshot's path; default None).
    They are checked before anything else is done, each by its check (lab.cli.checks)."""

    def __init__(self, path, hp):
        hp = {**cli.OPTIONS, 'resume': None, **hp}
        self.script_path, self.script = path, os.path.basename(path)
        self.hp = options.check(hp, checks=cli.checks(path))
        self.arguments = {k: v for k, v in hp.items() if k != 'resume'}  # run.json's
        self.device = devices.get_device(hp['device'])
        self.comm = devices.get_communicator(hp['communicator'])
        devices.check_batchsize(hp['batchsize'], self.comm)
        if self.comm is not None and self.device.xp is not np:  # one GPU per process of a node
            self.device = devices.get_device(f'@cupy:{self.comm.intra_rank}')
        self.writes = self.comm is None or self.comm.rank == 0  # the process that writes
        self.out = self.writes and check_writable_dir('out', os.path.expanduser(hp['out']))
        self.log = print if self.writes else None  # the epochs' lines, printed by one process
        self.out_dir = self.loaded = self.lock = self.trainer = None
        self.config = dict(script=self.script, arguments=self.arguments, dataset=None)

    def data(self, load):
        """The data, loaded by `load` (utils.load_mnist) in the process that writes and shared
        out among the others: [train, test] of this process. Said, and recorded in run.json."""
        hp, data = self.hp, None
        if self.writes:
            self.loaded = load(dataset=hp['dataset'], seed=hp['split_seed'], split=hp['split'])
            data = x_train, x_test = self.loaded[0]
            comm = self.comm
            print(f'data: {self.loaded.name} from {self.loaded.source}, {len(x_train)} train / '
                  f'{len(x_test)} test images of {x_train.shape[1]} pixels, {self.loaded.how}'
                  + (f'; {comm.size} processes ({hp["communicator"]} communicator)' if comm
                     else ''))
            self.config['dataset'] = dict(
                name=self.loaded.name, source=self.loaded.source, split=hp['split'],
                n_train=len(x_train), n_test=len(x_test), n_inputs=x_train.shape[1],
                split_seed=hp['split_seed'] if hp['split'] == 'random' else None,
                processes=comm.size if comm else 1)  # sharing the training set
            self.out_dir = check_writable_dir('out', os.path.join(self.out, self.loaded.name))
        if self.comm is not None:
            data = devices.share_out(data, self.comm, hp['seed'])
        return data

    def fits(self, need, names):
        """Refuse a run whose estimated memory `need` (bytes beside its data: its script's own
        estimate, lab.trainer.bytes_needed) is more than its device has available, before its
        model is made; `names`: the options that size it, for the words of the refusal."""
        have = devices.available_memory(self.device)
        if have is not None and need > have:
            where = 'this process' if self.device.xp is np else 'the GPU'
            raise options.ConfigError(
                f'this setting needs about {need / 2**30:,.1f} GiB for its model, its optimizer\'s '
                f'state and its largest batch, and {where} has {have / 2**30:,.1f} GiB available: '
                f'lower ' + ' or '.join(f'--{name.replace("_", "-")}' for name in names))

    def full_name(self, original, shown):
        """The run's name: the original's (`original`, which shows the options `shown`), then
        every other setting whose value differs from its default in the script's block, and
        the number of MPI processes (name_suffix); a name that another run's files (run.json,
        snapshot, lock) hold with other settings gets this run's own mark, `_run=` and eight
        hexadecimal digits of its settings, so that no run writes over another's outputs."""
        name = original + name_suffix(self.arguments, cli.defaults(self.script_path), shown,
                                      self.comm and self.comm.size)
        ours = [plain(self.arguments)]
        if self.hp['resume']:  # the run it goes on with, however its settings were recorded
            ours.append(plain(snapshots.read_config(self.hp['resume'])['arguments']))
        if self.writes and any(plain(a) not in ours for a in recorded(self.out_dir, name)):
            digest = hashlib.sha1(json.dumps(ours[-1], sort_keys=True).encode()).hexdigest()
            name += f'_run={digest[:8]}'
        return name

    @contextlib.contextmanager
    def training(self, trainer, name):
        """Train `trainer` within, as the run called `name`: it is locked for this process
        (lab.lock.Held if another has it), resumed from hp['resume'] if given, and on SIGINT or
        SIGTERM its snapshot is saved where it stopped and signals.Interrupted raised.
        trainer.phases(): {phase: its trainer} in order, for the log and the loss curves.
        The same command again while an interrupted run's snapshot is there is
        refused, with the --resume command to type. A loss that is not finite (Diverged) ends
        the run (diverged()); the same command again says so. NumPy's warnings of overflows
        on the way are not shown: what they warn of is detected and said in one line."""
        self.trainer, self.name = trainer, name
        if self.writes:
            check_names(self.out_dir, name, [*trainer.model.weight_pictures(), *OUTPUTS])
            ended = recorded(self.out_dir, name, 'diverged')
            if ended:
                raise Diverged(f'this run diverged before ({ended[0]}): the same settings '
                               f'would again; other settings make a new run')
            try:
                self.lock = lock.acquire(self.out_dir, name, dict(script=self.script,
                                                                  arguments=self.arguments))
            except OSError as e:
                raise WriteError(lock.path(self.out_dir, name), e) from None
        before = []  # the machines the training so far ran on (None: not recorded)
        if self.hp['resume']:
            before = snapshots.resume_from(trainer, self.hp['resume'], self.config).get(
                'trained_on', [None])
        here = machine.stack()
        self.config['trained_on'] = before + [here] if before[-1:] != [here] else before
        if self.comm is not None:
            with np.errstate(all='ignore'), self.ends_if_diverged():
                yield
            return
        path = snapshots.path(self.out_dir, name)
        if not self.hp['resume'] and os.path.exists(path):  # interrupted: never written over
            raise options.ConfigError(
                f'this run was interrupted before ({snapshots.progress(path)}): continue it '
                f'with: python {self.script} --resume {path}  (or remove that snapshot to '
                f'start it over)')
        with signals.training(), self.resumable(), np.errstate(all='ignore'), \
                self.ends_if_diverged():
            try:
                yield
                signals.stop_requested()  # a signal in the last minibatch: done, but stop
            except signals.Interrupted as e:
                self.save()
                print(f'{e}: training stopped, snapshot saved to {path}\n'
                      f'continue with: python {self.script} --resume {path}', file=sys.stderr)
                raise

    @contextlib.contextmanager
    def ends_if_diverged(self):
        """A loss that is not finite (trainer.Diverged) ends the run, said in words that name the
        phase and what to try: its log up to its last finite epoch stays, run.json says how it
        ended (`diverged`: where and what), and there is no picture, no model and no snapshot
        (the last finite one would diverge again)."""
        try:
            yield
        except Diverged as e:
            phase = next((p for p, t in self.trainer.phases().items() if t is e.trainer), '')
            t = e.trainer
            lr = f' at learning rate {t.base_lr:g}' if t.lr_name else ''
            e.args = (f'{e}{f" ({phase})" if phase else ""}, with '
                      f'{type(t.inner_optimizer).__name__}{lr}: try a lower --lr or another '
                      f'--optimizer',)
            if self.writes:
                self.write_log()
                self.write_record(diverged=dict(words=str(e), phase=phase, epoch=e.epoch,
                                                minibatch=e.minibatch, what=e.what,
                                                value=str(e.value)))
                self.end()
            raise

    def save(self):
        """After every epoch: the snapshot (not under MPI) and the log, by the process that
        writes."""
        if self.writes and self.comm is None:
            snapshots.save(self.trainer, snapshots.path(self.out_dir, self.name), self.config)
        if self.writes:
            self.write_log()

    def write_log(self):
        """log.json: one entry an epoch of every phase so far, from the trainers' histories (so
        it always agrees with the snapshot)."""
        write_json(self.path('log.json'), [
            dict(phase=phase, epoch=epoch, **dict(zip(history, values)))
            for phase, t in self.trainer.phases().items() for history in [t.history()]
            for epoch, values in enumerate(zip(*history.values()), 1)])

    def path(self, suffix):
        return os.path.join(self.out_dir, self.name + suffix)

    def save_outputs(self, pictures, save_images, save_loss_curves):
        """The weight pictures ({suffix: rows}), the loss curves, reconstructions (drawn by
        utils' save_images and save_loss_curves), the model, the log and run.json (the run's
        configuration and trainer.record(), its losses); then the snapshot is removed and the
        lock let go. Until they are all written, the finished training is in the snapshot.
        Only the process that writes writes."""
        if not self.writes:
            return
        import chainer
        trainer = self.trainer
        with self.resumable():
            for suffix, rows in pictures.items():  # weights, each tile stretched; or pixels
                pixels = isinstance(rows, Pixels)
                save_images(devices.HOST.send(rows.rows if pixels else rows), self.path(suffix),
                            scale_each=not pixels)
            save_loss_curves({f'{phase} {part}'.strip(): values
                              for phase, t in trainer.phases().items()
                              for part, values in (('train', t.loss_values),
                                                   ('test', t.test_loss_values))},
                             self.path('loss.png'), title=self.name)
            n = min(10, len(trainer.test))
            save_images(reconstructions(trainer, n), self.path('reconstruction.png'), ncols=n,
                        scale_each=False, row_labels=[
                            'original', f'masked {trainer.corruption_ratio:.0%}', 'reconstructed'])
            with atomic_path(self.path('model.npz')) as tmp:
                chainer.serializers.save_npz(tmp, trainer.model)
            self.write_log()
            self.write_record()
        print(f'wrote {len(pictures) + 5} files to {self.out_dir}/: {self.name}*')
        if self.loaded.note:
            print(self.loaded.note)
        self.end()

    def write_record(self, **how):
        """run.json: the run's configuration, its trainer's record (its losses), the stack it
        ran on, and `how` it ended where that is not by finishing (diverged=...)."""
        write_json(self.path('run.json'), dict(self.config, condition=self.name,
                                               **self.trainer.record(), **how,
                                               versions=machine.stack()))

    def end(self):
        """The run has ended (finished, or diverged): its snapshot goes, its lock is let go."""
        snapshot = snapshots.path(self.out_dir, self.name)
        if os.path.exists(snapshot):
            os.remove(snapshot)
        lock.release(self.lock)

    @contextlib.contextmanager
    def resumable(self):
        """A write that fails within (WriteError: disk full, permission) says how to go on: the
        last snapshot that was written whole is kept (a new one replaces it only once it is
        complete), and the command that resumes from it; or that there is none yet."""
        snapshot = snapshots.path(self.out_dir, self.name)
        try:
            yield
        except WriteError as e:
            if os.path.exists(snapshot):
                e.hint = (f'the last complete snapshot is kept ({snapshots.progress(snapshot)}); '
                          f'once there is room, continue with: python {self.script} --resume '
                          f'{snapshot}')
            else:
                e.hint = 'nothing to resume: no snapshot was written before (start the run again)'
            raise


# The order the settings have always taken in a run's name; any other follows in its block's.
ORDER = ('seed', 'split', 'split_seed', 'batchsize', 'lr', 'lr_decay', 'loss', 'weight_decay',
         'momentum_max', 'device', 'communicator', 'pretrain_epoch', 'pretrain_corruption_ratio',
         'init', 'dropout_ratio')


def name_suffix(arguments, defaults, shown=(), processes=None):
    """What a run's name adds to the original's: every setting but where it writes and those
    `shown` whose argument differs from its default (`defaults`), in the original's style
    (`_seed=2_lr=0.01`), in ORDER, and the number of MPI processes. The split seed counts only
    for a random split."""
    def token(value):
        text = format(value, 'g') if isinstance(value, float) else str(value)
        return re.sub(r'[^A-Za-z0-9.+-]', '', text)

    def short(key):  # corruption_ratio -> corp, pretrain_epoch -> pretrain, as the original's
        return (key.replace('corruption_ratio', 'corp').replace('dropout_ratio', 'drop')
                .replace('_epoch', '').replace('_', ''))
    keys = [k for k in ORDER if k in defaults] + [k for k in defaults if k not in ORDER]
    changed = [(key, arguments[key]) for key in keys
               if key not in (*shown, 'dataset', 'out') and plain(arguments[key]) != plain(
                   defaults[key]) and not (key == 'split_seed' and arguments['split'] != 'random')]
    return (''.join(f'_{short(key)}={token(value)}' for key, value in changed)
            + (f'_processes={processes}' if processes else ''))


def plain(value):
    """A value as JSON holds it (tuples as lists), --out left out of settings: what two runs'
    settings are compared as."""
    value = json.loads(json.dumps(value))
    return {k: v for k, v in value.items() if k != 'out'} if isinstance(value, dict) else value


def recorded(out_dir, name, key='arguments'):
    """What run `name`'s files in `out_dir` record of `key` (its settings; 'diverged': how it
    diverged, in run.json only): run.json, snapshot, lock."""
    found = []
    for path, read in ((os.path.join(out_dir, name + 'run.json'), read_json),
                       (snapshots.path(out_dir, name), snapshots.read_config),
                       (lock.path(out_dir, name), lock.read)):
        if os.path.exists(path):
            try:
                found.append(read(path)[key] if key == 'arguments' else read(path)[key]['words'])
            except (OSError, ValueError, KeyError, TypeError, options.ConfigError):
                pass
    return found


class Pixels:
    """Rows of a picture that are images, their values in [0, 1] drawn as they are (a picture's
    rows are otherwise weights, each tile stretched to its own range)."""

    def __init__(self, rows):
        self.rows = rows


def percent(ratio):
    return round(ratio * 100)


def activations_to_string(model):
    """The code and output activations, in a run's name, where they differ from `activate`."""
    parts = (('code', model.code_activate), ('out', model.output_activate))
    return ''.join(f'_{part}={f.__name__}' for part, f in parts if f is not model.activate)


def reconstructions(trainer, n=10, seed=0):
    """Rows: n test images, their masked versions, and the reconstructions of those."""
    x = devices.HOST.send(trainer.test[:n])
    noisy = x * (np.random.default_rng(seed).random(x.shape) >= trainer.corruption_ratio)
    noisy_out = inference(trainer.model, trainer.device.send(noisy))
    return np.concatenate([x, noisy, devices.HOST.send(noisy_out)])


def inference(fn, x, batchsize=EVALUATION_BATCH):
    """fn(batch).array over x, batch by batch, in eval mode (no dropout), without a graph."""
    import chainer
    xp = chainer.backend.get_array_module(x)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return xp.concatenate([fn(x[i:i + batchsize]).array for i in range(0, len(x), batchsize)])


def check_names(out_dir, name, suffixes):
    """Refuse, before training, a run whose output names the file system cannot hold."""
    longest = max((name + suffix for suffix in suffixes), key=lambda f: len(f.encode()))
    try:
        limit = os.pathconf(out_dir, 'PC_NAME_MAX')
    except (OSError, ValueError, AttributeError):  # not known here: the common limit
        limit = 255
    if len(longest.encode()) > limit:
        raise options.ConfigError(
            f'the run\'s name is too long for its files: {longest!r} has '
            f'{len(longest.encode())} bytes, {out_dir!r} allows {limit}; set fewer options away '
            f'from their defaults')
