"""The run machinery that autoencoder.py and deep_autoencoder.py share, kept out of their way.

device      get_device: a Chainer device from its name, with a clear error
MPI         get_communicator, split_stream, multi_node: ChainerMN data-parallel training
            (chainermn and mpi4py are imported only when a communicator is asked for)
data        prepare: every infrastructure check, then the data, shared out among processes
outputs     save_outputs: pictures, loss curves, reconstructions, model, run.json
progress    show_progress, end_progress: a line rewritten in place inside an epoch, on a terminal
signals     Interrupted, handle_signals, training: SIGINT / SIGTERM stop the program at once,
            but inside training at the end of a minibatch (stop_requested)
snapshots   train_with_snapshots, resume_from
command     parser, add_run_options (data, split, output, device, MPI, resume), run_cli

It never imports a script: the scripts pass their trainers, names and pictures in.
"""
import argparse
import contextlib
import json
import os
import platform
import re
import signal
import sys
import time

import chainer
import numpy as np

import chainer_compat
import utils
from utils import ConfigError

HOST = chainer.get_device('@numpy')  # outputs are written from host copies
COMMUNICATORS = ('naive', 'flat', 'hierarchical', 'two_dimensional', 'single_node',
                 'non_cuda_aware', 'pure_nccl')  # chainermn.create_communicator's names


# ---------------------------------------------------------------- device and MPI

def get_device(device):
    """chainer.get_device, with a clear error: '@numpy' (the CPU), '@cupy:0' (the first GPU)."""
    if isinstance(device, chainer.backend.Device):
        return device
    try:
        return chainer.get_device(device)
    except Exception as e:  # Chainer raises RuntimeError, ValueError or KeyError
        hint = ' (a GPU needs CuPy: pip install cupy-cuda12x)' if 'cupy' in str(device) else ''
        raise ConfigError(f'device must be a Chainer device such as @numpy or @cupy:0; '
                          f'{device!r} cannot be used: {" ".join(str(e).split())}{hint}') from None


def get_communicator(communicator):
    """A ChainerMN communicator (this process is one rank of an `mpiexec -n N` job), or None.
    chainermn, and with it mpi4py, is imported only here."""
    if communicator is None:
        return None
    utils.check_choice('communicator', communicator, COMMUNICATORS)
    try:
        import chainermn
    except ImportError as e:
        raise ConfigError(f'communicator {communicator!r} needs mpi4py and an MPI library '
                          f'(make mpi-setup): {e}') from None
    try:
        return chainermn.create_communicator(communicator)
    except Exception as e:  # e.g. the NCCL ones without CuPy
        raise ConfigError(f'communicator {communicator!r} cannot be used: '
                          f'{" ".join(str(e).split())}') from None


def check_batchsize(batchsize, comm=None):
    """An integer >= 1 that, with a communicator, divides among its processes."""
    utils.check_int('batchsize', batchsize)
    if comm is not None and batchsize % comm.size:
        raise ConfigError(f'batchsize {batchsize} (the global minibatch) must be a multiple of '
                          f'the number of processes, {comm.size}')
    return batchsize


def split_stream(rng, rank):
    """Give MPI rank `rank` a stream of its own, in place: every rank starts from the same seed,
    so all draw the same number and reseed from it and their rank."""
    rng.bit_generator.state = np.random.default_rng(
        [int(rng.integers(2**63)), rank]).bit_generator.state


def multi_node(optimizer, comm):
    """The optimizer wrapped so that gradients are averaged across the processes every step."""
    import chainermn
    return chainermn.create_multi_node_optimizer(optimizer, comm)


def prepare(dataset, seed, device, communicator, batchsize, out, split='random', split_seed=None):
    """What both scripts do before building a model, once their own arguments are checked:
    the device, the communicator, the batch size among its processes and the output folder
    are checked, then the data are loaded (on rank 0) and shared out.

    `split_seed` seeds the random split (default: `seed`); `seed`, the sharing out among MPI
    processes. Returns this process's [train, test], its device, its communicator (None without one),
    and, on the process that writes outputs (the only one, or rank 0), the data's description
    for run.json and the output folder OUT/<dataset> (else None, None)."""
    utils.check_int('seed', seed, minimum=0)
    split_seed = seed if split_seed is None else utils.check_int('split_seed', split_seed,
                                                                 minimum=0)
    utils.check_choice('dataset', dataset, utils.DATASETS)
    utils.check_split(split, dataset)
    device = get_device(device)
    comm = get_communicator(communicator)
    check_batchsize(batchsize, comm)
    if comm is not None and device.xp is not np:  # one GPU per process of a node
        device = get_device(f'@cupy:{comm.intra_rank}')
    description = out_dir = data = None
    if comm is None or comm.rank == 0:
        out = utils.check_writable_dir('out', os.path.expanduser(out))  # '~/runs' typed quoted
        loaded = utils.load_mnist(dataset=dataset, seed=split_seed, split=split)
        data = x_train, x_test = loaded[0]
        how = {'official': 'its own split', 'validation': 'its training set split for '
               'validation (its test set unused)'}.get(split, f'a random split (seed {split_seed})')
        if split == 'validation' and loaded.name == 'digits':
            how = f'the training part of a random split (seed {split_seed}) split for validation'

        print(f'data: {loaded.name} from {loaded.source}, {len(x_train)} train / {len(x_test)} '
              f'test images of {x_train.shape[1]} pixels, {how}'
              + (f'; {comm.size} processes ({communicator} communicator)' if comm else ''))
        description = dict(name=loaded.name, source=loaded.source, split=split,
                           n_train=len(x_train), n_test=len(x_test), n_inputs=x_train.shape[1],
                           split_seed=split_seed if split == 'random' else None,
                           processes=comm.size if comm else 1)  # sharing the training set
        out_dir = utils.check_writable_dir('out', os.path.join(out, loaded.name))
    if comm is not None:  # rank 0's data, shared out; the training set padded to equal shares
        import chainermn
        train, test = data or (None, None)
        data = [np.asarray(chainermn.scatter_dataset(train, comm, shuffle=True, seed=seed)[:]),
                np.asarray(chainermn.scatter_dataset(test, comm, force_equal_length=False)[:])]
    return data, device, comm, description, out_dir


# ---------------------------------------------------------------- outputs

def name_suffix(arguments, defaults, comm=None):
    """What a run's name adds to the original's: every setting in `defaults` (name: value)
    whose argument differs from it, in the original's style (`_seed=2_lr=0.01`), and the
    number of MPI processes. The split seed counts only for a random split."""
    def token(value):
        text = format(value, 'g') if isinstance(value, float) else str(value)
        return re.sub(r'[^A-Za-z0-9.+-]', '', text)
    changed = [(key, arguments[key]) for key, default in defaults.items()
               if arguments[key] != default
               and not (key == 'split_seed' and arguments.get('split') != 'random')]
    def short(key):  # corruption_ratio -> corp as the original's names, pretrain_epoch -> pretrain
        return (key.replace('corruption_ratio', 'corp').replace('dropout_ratio', 'drop')
                .replace('_epoch', '').replace('_', ''))
    return (''.join(f'_{short(key)}={token(value)}' for key, value in changed)
            + (f'_processes={comm.size}' if comm is not None else ''))


def save_outputs(trainer, out_dir, name, config, pictures, curves):
    """Weight pictures ({suffix: rows}), loss curves ({label: losses}), reconstructions,
    the model and a JSON record of the run, all named `name` + suffix. Until they are all
    written, the finished training is in the run's snapshot (see resumable)."""
    with resumable(trainer, snapshot_path(out_dir, name)):
        _save_outputs(trainer, out_dir, name, config, pictures, curves)


def _save_outputs(trainer, out_dir, name, config, pictures, curves):
    path = lambda suffix: os.path.join(out_dir, name + suffix)  # noqa: E731
    for suffix, rows in pictures.items():
        utils.save_images(HOST.send(rows), path(suffix))
    utils.save_loss_curves(curves, path('loss.png'), title=name)
    n = min(10, len(trainer.test))
    utils.save_images(trainer.reconstructions(n), path('reconstruction.png'), ncols=n,
                      scale_each=False, row_labels=[
                          'original', f'masked {trainer.corruption_ratio:.0%}', 'reconstructed'])
    with utils.atomic_path(path('model.npz')) as tmp:
        chainer.serializers.save_npz(tmp, trainer.model)
    utils.write_json(path('run.json'), dict(
        config, condition=name, loss_values=trainer.loss_values,
        test_loss_values=trainer.test_loss_values, seconds_per_epoch=trainer.seconds,
        versions=stack()))
    print(f'wrote {len(pictures) + 4} files to {out_dir}/: {name}*')
    if config['dataset']['name'] == 'digits':
        print(DIGITS_PICTURES)


DIGITS_PICTURES = ('these are pictures of the 8x8 digits, not of MNIST: 64 pixels a picture, '
                   'so the filters look like noise beside the 28x28 strokes an MNIST run draws; '
                   f'to train on MNIST, {utils.HOW_TO_GET_MNIST} (README: Getting MNIST)')


def stack():
    """What a run is computed on: the CPU, Python, Chainer, NumPy and NumPy's BLAS."""
    return {'cpu': cpu_name(), 'python': sys.version.split()[0], 'chainer': chainer.__version__,
            'numpy': np.__version__, 'blas': blas_info()}


def cpu_name():
    """The processor's model name (Linux's /proc/cpuinfo), else its architecture."""
    try:
        with open('/proc/cpuinfo') as f:
            return next(line.split(':', 1)[1].strip() for line in f
                        if line.startswith('model name'))
    except (OSError, StopIteration):
        return platform.machine()


def blas_info():
    """NumPy's BLAS: its library, version, the kernel it runs here and its threads
    (threadpoolctl), and OPENBLAS_CORETYPE where it is set, for run records and benchmark
    headers."""
    from threadpoolctl import threadpool_info
    blas = next((i for i in threadpool_info() if i.get('user_api') == 'blas'
                 and 'numpy' in i.get('filepath', '')), None)
    if blas is None:
        return dict(library=None)
    return dict(library=blas.get('internal_api'), version=blas.get('version'),
                core=blas.get('architecture'), threads=blas.get('num_threads'),
                OPENBLAS_CORETYPE=os.environ.get('OPENBLAS_CORETYPE'))


# ---------------------------------------------------------------- progress inside an epoch

PROGRESS = True  # False: never (reproduce.py's parallel runs share one terminal)
_progress = dict(shown=0, last=0.0)  # width of the line on screen, when it was written


def show_progress(text, stream=None):
    """On a terminal, `text` in place of the previous progress line, at most twice a second;
    on a file or a pipe, nothing. end_progress() clears the line before the next log line."""
    stream = stream or sys.stdout
    now = time.monotonic()
    if not PROGRESS or now - _progress['last'] < .5 or not stream.isatty():
        return
    stream.write('\r' + text.ljust(_progress['shown']))
    stream.flush()
    _progress.update(shown=len(text), last=now)


def end_progress(stream=None):
    stream = stream or sys.stdout
    if _progress['shown']:
        stream.write('\r' + ' ' * _progress['shown'] + '\r')
        _progress.update(shown=0, last=0.0)


# ---------------------------------------------------------------- snapshots and signals

class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, as KeyboardInterrupt is, so that no
    `except Exception` on the way (a download's retry, say) can swallow it."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_signals = dict(training=False, stop=None)  # inside training: the signal waiting for a boundary


def on_signal(signum, frame=None):
    """The SIGINT and SIGTERM handler of the scripts: outside training, stop at once (raise
    Interrupted wherever the program is: loading data, evaluating, writing outputs, all of
    which write atomically); inside training (`training()`), only note it, for the trainer to
    stop at the end of the minibatch and save a snapshot."""
    if _signals['training']:
        _signals['stop'] = signum
    else:
        raise Interrupted(signum)


def handle_signals():
    """Install on_signal for SIGINT and SIGTERM; returns the handlers it replaced."""
    return {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}


@contextlib.contextmanager
def training():
    """Within: a signal waits for stop_requested() (between minibatches) instead of stopping
    the program where it is, and one that arrives while a snapshot is written waits too."""
    _signals.update(training=True, stop=None)
    try:
        yield
    finally:
        _signals.update(training=False, stop=None)


def request_stop(signum, frame=None):
    """What a signal does inside training: stop at the next minibatch boundary."""
    _signals['stop'] = signum


def stop_requested():
    """Raise Interrupted if SIGINT or SIGTERM arrived (a trainer calls it between minibatches)."""
    if _signals['stop'] is not None:
        raise Interrupted(_signals['stop'])


OUTPUTS = ('loss.png', 'reconstruction.png', 'model.npz', 'run.json', 'snapshot.npz')


def check_names(out_dir, name, suffixes):
    """Refuse, before training, a run whose output names the file system cannot hold."""
    longest = max((name + suffix for suffix in suffixes), key=lambda f: len(f.encode()))
    try:
        limit = os.pathconf(out_dir, 'PC_NAME_MAX')
    except (OSError, ValueError, AttributeError):  # not known here: the common limit
        limit = 255
    if len(longest.encode()) > limit:
        raise ConfigError(f'the run\'s name is too long for its files: {longest!r} has '
                          f'{len(longest.encode())} bytes, {out_dir!r} allows {limit}; set fewer '
                          f'options away from their defaults')


def snapshot_path(out_dir, name):
    """Where a run's snapshot is: its own name (every setting of a run is in it)."""
    return os.path.join(out_dir, name + 'snapshot.npz')


def snapshot_progress(path):
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


def save_snapshot(trainer, path):
    with utils.atomic_path(path) as tmp:
        chainer.serializers.save_npz(tmp, trainer)


def read_snapshot_config(path):
    """The configuration a snapshot was made with (its script, arguments and data)."""
    try:
        with np.load(path) as f:
            return json.loads(str(f['state']))['config']
    except Exception as e:  # missing, truncated, not ours
        raise ConfigError(f'resume: {path!r} is not a readable snapshot '
                          f'({type(e).__name__}: {e})') from None


def resume_from(trainer, path):
    """Load a snapshot into a trainer built with the snapshot's own arguments (but for a
    longer run, see run_cli); the trainer keeps its own configuration."""
    config, own = read_snapshot_config(path), trainer.config
    if config['dataset'] != own['dataset']:
        raise ConfigError(f'resume: the snapshot {path!r} was made on data {config["dataset"]}, '
                          f'but the data now is {own["dataset"]}')
    try:
        chainer.serializers.load_npz(path, trainer)
    except Exception as e:
        raise ConfigError(f'resume: {path!r} is not a readable snapshot '
                          f'({type(e).__name__}: {e})') from None
    # the stacks the training so far was computed on (None: a snapshot from before they were kept)
    trainer.config = dict(own, trained_on=config.get('trained_on', [None]))
    print(f'resumed from {path}')


def train_with_snapshots(trainer, out_dir, name, resume, train):
    """Resume from `resume` (a snapshot path, or None), then call train(save): `save` writes
    OUT/<name>snapshot.npz (call it after every epoch); on SIGINT or SIGTERM the snapshot is
    written where training stopped, and Interrupted raised. Returns the snapshot's path, for
    done() once the outputs are written: until then it holds the finished training.

    MPI jobs (a trainer with a communicator) have no snapshots: train(None), on every rank."""
    if out_dir:
        check_names(out_dir, name, [*trainer.model.weight_pictures(), *OUTPUTS])
    if resume:
        resume_from(trainer, resume)
    here, before = stack(), trainer.config.get('trained_on', [])
    trainer.config['trained_on'] = before + [here] if before[-1:] != [here] else before
    if trainer.comm is not None:
        train(None)
        return None
    path = snapshot_path(out_dir, name)
    if not resume and os.path.exists(path):  # the same run, interrupted: never written over
        raise ConfigError(f'this run was interrupted before ({snapshot_progress(path)}): '
                          f'continue it with: python {trainer.config["script"]} --resume {path}'
                          f'  (or remove that snapshot to start it over)')
    save = lambda: save_snapshot(trainer, path)  # noqa: E731
    with training(), resumable(trainer, path):
        try:
            train(save)
            stop_requested()  # a signal in the last minibatch: done, but stop as asked
        except Interrupted as e:
            save()
            print(f'{e}: training stopped, snapshot saved to {path}\n'
                  f'continue with: python {trainer.config["script"]} --resume {path}',
                  file=sys.stderr)
            raise
    return path


@contextlib.contextmanager
def resumable(trainer, snapshot):
    """A write that fails within (utils.WriteError: disk full, permission) says how to go on:
    the last snapshot that was written whole is kept (a new one replaces it only once it is
    complete), and the command that resumes from it; or that there is none yet."""
    try:
        yield
    except utils.WriteError as e:
        if snapshot and os.path.exists(snapshot):
            e.hint = (f'the last complete snapshot is kept ({snapshot_progress(snapshot)}); once '
                      f'there is room, continue with: python {trainer.config["script"]} '
                      f'--resume {snapshot}')
        else:
            e.hint = 'nothing to resume: no snapshot was written before (start the run again)'
        raise


def done(snapshot):
    """Remove a finished run's snapshot (its own: every setting of a run is in its name)."""
    if snapshot and os.path.exists(snapshot):
        os.remove(snapshot)


# ---------------------------------------------------------------- the command line

def parser(doc, script):
    """An argument parser for a script: its first docstring line, defaults shown in --help."""
    return argparse.ArgumentParser(prog=script, description=doc.split('\n')[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def add_run_options(p, defaults):
    """The infrastructure options, after the script's own model and training ones."""
    data = p.add_argument_group('data and output')
    data.add_argument('--dataset', default=defaults['dataset'], choices=utils.DATASETS,
                      help='mnist: $MNIST_DIR or OpenML, never falls back; digits: the 8x8 '
                           'digits bundled with scikit-learn; auto: mnist if available, else digits')
    data.add_argument('--split', default=defaults['split'], choices=utils.SPLITS,
                      help="random: the original's seeded 75/25 split of all images; official: "
                           "MNIST's own 60,000 training and 10,000 test images; validation: "
                           "MNIST's first 50,000 training images, tested on its last 10,000, to "
                           "choose settings without the test set (digits: the random split's "
                           "training part, its last quarter held out)")
    data.add_argument('--split-seed', type=int, default=defaults['split_seed'],
                      help='seed of the random split')
    data.add_argument('--out', default=defaults['out'],
                      help='output folder; a run writes into OUT/<dataset>/')
    engine = p.add_argument_group('device and processes')
    engine.add_argument('--device', default=defaults['device'],
                        help='a Chainer device: @numpy (the CPU), @cupy:0 (the first GPU; needs CuPy)')
    engine.add_argument('--communicator', default=defaults['communicator'], choices=COMMUNICATORS,
                        help='train one model across the processes of `mpiexec -n N` with this '
                             'ChainerMN communicator (naive on CPUs; needs make mpi-setup)')
    p.add_argument_group('resuming').add_argument(
        '--resume', metavar='SNAPSHOT',
        help='continue an interrupted run from its snapshot, with the settings recorded in it '
             '(options given beside it must agree, but for a larger epoch count)')
    return p


def run_cli(p, experiment, argv, longer=None):
    """Parse argv and call experiment(**options). Bad input: one line on stderr, exit status 2.
    A file that cannot be written (disk full, permission): one line naming it and how to go on,
    exit status 1.
    SIGINT or SIGTERM: at once, or in training with a snapshot; exit status 128 + the
    signal's number, no traceback.

    With --resume the snapshot's own arguments are used; options given beside it that differ
    from them are named in one line: `longer` (the epoch option) may grow, and the run goes
    on to that many epochs; any other difference is refused.

    In an MPI job (--communicator) signals keep their default (mpiexec ends every process),
    and bad input found by one process ends the whole job (MPI_Abort), as the others would
    wait for it forever."""
    utils.one_line_errors(p)
    for problem in chainer_compat.check():  # the environment's versions, before the arguments
        p.error(problem)
    given = vars(p.parse_args(argv, namespace=argparse.Namespace(
        **{a.dest: NOT_GIVEN for a in p._actions if a.dest != 'help'})))
    args = vars(p.parse_args(argv))
    mpi = args['communicator'] and not args['resume']
    handlers = {} if mpi else handle_signals()
    try:
        if args['resume']:
            args = resumed_arguments(p, args['resume'], {k: v for k, v in given.items()
                                                          if v is not NOT_GIVEN}, longer)
        experiment(**args)
    except ConfigError as e:
        if mpi and 'mpi4py.MPI' in sys.modules:
            print(f'{p.prog}: error: {e}', file=sys.stderr, flush=True)
            sys.modules['mpi4py.MPI'].COMM_WORLD.Abort(2)
        p.error(str(e))
    except utils.WriteError as e:  # not bad input: the disk filled, or rights were lost
        print(f'{p.prog}: error: {e}', file=sys.stderr)
        return 1
    except Interrupted as e:
        print(f'{p.prog}: stopped by {e}', file=sys.stderr)
        return 128 + e.signum
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return 0


NOT_GIVEN = object()  # an option left off the command line


def resumed_arguments(p, path, given, longer):
    """The arguments of the snapshot at `path`, with what was given beside --resume checked
    against them (see run_cli)."""
    config = read_snapshot_config(path)
    if config['script'] != p.prog:
        raise ConfigError(f'resume: {path!r} is a snapshot of {config["script"]}, not of {p.prog}')
    arguments = dict(config['arguments'])
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
            f'a snapshot continues with its own settings' + (
                f' (only {flag(longer)} may grow, to train on)' if longer else ''))
    if differ:
        print(f'resume: {flag(longer)} {differ[longer]} instead of the snapshot\'s '
              f'{arguments[longer]}: training goes on to {differ[longer]} epochs')
    return dict(arguments, **differ, resume=path)
