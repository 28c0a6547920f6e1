import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import lab.compat  # noqa: E402,F401  (before Chainer, also outside the project's venv)
# All of MNIST (the four official IDX files), from $MNIST_DIR; never committed.
MNIST_DIR = os.environ.get('MNIST_DIR', '')
MNIST_FILES = [f'{split}-{kind}-idx{dims}-ubyte.gz' for split in ('train', 't10k')
               for kind, dims in (('images', 3), ('labels', 1))]
# The two sizes of the suite: `make test` runs every test but those marked full (units,
# numerics, short runs on the digits, bad input, resume: a few minutes); `make test-all` runs
# them too (servers, tmpfs mounts, MPI, MNIST, set-up, the experiments end to end), as CI does.
full = pytest.mark.full


def needs_mnist(test):
    """A test of real MNIST: in make test-all only, skipped where the files are not there."""
    return full(pytest.mark.skipif(
        not all(os.path.exists(os.path.join(MNIST_DIR, f)) for f in MNIST_FILES),
        reason=f'the four MNIST IDX files ({", ".join(MNIST_FILES)}) are not all in '
               f'{MNIST_DIR} (set MNIST_DIR)')(test))


@pytest.fixture(scope='session')
def digits():
    """scikit-learn's bundled 8x8 digits, split 75/25 as load_mnist does."""
    import utils
    return utils.load_mnist(dataset='digits', seed=0)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No MNIST_DIR, an empty cache folder, and a network that fails."""
    import urllib.error

    import sklearn.datasets

    def no_network(*args, **kwargs):
        raise urllib.error.URLError('network made to fail by the test')

    monkeypatch.delenv('MNIST_DIR', raising=False)
    monkeypatch.setenv('SCIKIT_LEARN_DATA', str(tmp_path))  # where the .npz cache goes
    monkeypatch.setattr(sklearn.datasets, 'fetch_openml', no_network)
    return tmp_path


REWORDED = """import builtins
_print = builtins.print
WORDS = {'epoch': 'Durchgang', 'train': 'Training', 'test': 'Pruefung', 'wrote': 'schrieb'}


def reworded(*args, **kwargs):  # every line a program prints, in other words
    text = kwargs.pop('sep', ' ').join(map(str, args))
    for old, new in WORDS.items():
        text = text.replace(old, new)
    _print(text, **kwargs)


builtins.print = reworded
"""


@pytest.fixture
def reworded(tmp_path_factory, monkeypatch):
    """Every Python started from now on (the runs a parent starts too) prints its lines in
    other words ('epoch 3/5  train ...' becomes 'Durchgang 3/5  Training ...'): a
    sitecustomize on PYTHONPATH. A parent that read its children's lines would be lost."""
    folder = tmp_path_factory.mktemp('reworded')
    (folder / 'sitecustomize.py').write_text(REWORDED)
    monkeypatch.setenv('PYTHONPATH', str(folder))
    return {'PYTHONPATH': str(folder)}


def run_files(folder):
    """The files of the runs in `folder`: all but their locks and per-epoch logs."""
    return sorted(f for f in os.listdir(folder) if f != '.locks' and not f.endswith('log.json'))


def command(module, argv):
    """What `python SCRIPT argv` does for a research script's module, in this process: its exit
    status (the script's own `if __name__ == '__main__'` line)."""
    from lab import cli
    longer = 'finetune_epoch' if 'finetune_epoch' in module.HYPERPARAMETERS else 'epoch'
    try:
        with cli.command():
            hp = cli.parse(module.HYPERPARAMETERS, argv, longer, path=module.__file__)
            module.main(hp)
    except SystemExit as e:
        return e.code


def script_command(script, *args):
    """The command line of `python script args` in this interpreter, unbuffered."""
    return [sys.executable, '-u', '-W', 'ignore', os.path.join(ROOT, script), *args]


def run_script(script, *args, env=None, prefix=(), timeout=120):
    """Run a script to the end, e.g. run_script('autoencoder.py', '--epoch', '1'); `prefix`
    goes before the interpreter (mpiexec ...), `env` adds to the environment."""
    return subprocess.run([*prefix, *script_command(script, *args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env=dict(os.environ, **(env or {})))


def start_script(script, *args):
    """A running script whose output can be read line by line as it comes."""
    return subprocess.Popen(script_command(script, *args), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def postgres_bin():
    """The folder of Debian's PostgreSQL server programs (initdb, pg_ctl), or None."""
    import glob
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/pg_ctl'))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope='session')
def postgres_url():
    """A PostgreSQL server of its own: a cluster in a temporary folder, on a free loopback
    port, run as the unprivileged user `postgres` when the tests run as root (the server
    refuses root). Its URL; the server is stopped and the folder removed after the tests.
    In CI (CI=true, where .ci/run installs Debian's postgresql) a missing server fails the
    test; elsewhere it is skipped with the reason."""
    import pwd
    import shutil
    import socket
    import tempfile
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = ("Debian's PostgreSQL server is not installed (apt-get install postgresql; "
                   ".ci/run does it)")
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    folder = tempfile.mkdtemp(prefix='search-postgres-')
    as_user = []
    if os.geteuid() == 0:
        user = pwd.getpwnam('postgres')
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ['runuser', '-u', 'postgres', '--']
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    data = os.path.join(folder, 'data')
    run = lambda *argv: subprocess.run([*as_user, *argv], check=True, capture_output=True,  # noqa: E731
                                       text=True, timeout=120)
    run(os.path.join(bin_dir, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust')
    run(os.path.join(bin_dir, 'pg_ctl'), '-D', data, '-l', os.path.join(folder, 'log'), '-w',
        '-o', f'-p {port} -k {folder} -c listen_addresses=127.0.0.1', 'start')
    try:
        yield f'postgresql://postgres@127.0.0.1:{port}/postgres'
    finally:
        run(os.path.join(bin_dir, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop')
        shutil.rmtree(folder, ignore_errors=True)


def table_rows(readme):
    """The table rows, without the timing columns."""
    lines = readme.splitlines()
    return [re.sub(r'\| [0-9.]+ \| [0-9.]+ \| ([0-9.]+%) \|$', r'| - | - | \1 |',
                   re.sub(r'\| [0-9.]+ \|$', '| - |', line))
            for line in lines if line.startswith('|')]


@pytest.fixture
def stop_after(monkeypatch):
    """Call request_stop, as the SIGINT handler would, right after the n-th optimizer update."""
    import signal

    import chainer

    from lab import signals

    def arm(n):
        update, count = chainer.optimizer.GradientMethod.update, [0]

        def counting(self, *args, **kwargs):
            update(self, *args, **kwargs)
            count[0] += 1
            if count[0] == n:
                signals.request_stop(signal.SIGINT)
        monkeypatch.setattr(chainer.optimizer.GradientMethod, 'update', counting)
    yield arm
    signals.request_stop(None)


def snapshot_and_reload(trainer, make, tmp_path):
    """Save the interrupted trainer; load it into a new one built with another seed."""
    import chainer

    from lab import signals, snapshots
    path = str(tmp_path / 'snapshot.npz')
    snapshots.save(trainer, path, {})
    signals.request_stop(None)
    resumed = make(seed=5)
    chainer.serializers.load_npz(path, resumed)
    return resumed
