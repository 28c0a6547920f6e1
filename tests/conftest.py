import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import chainer_compat  # noqa: E402,F401  (before Chainer, also outside the project's venv)
# All of MNIST (the four official IDX files), from $MNIST_DIR; never committed.
MNIST_DIR = os.environ.get('MNIST_DIR', '')
MNIST_FILES = [f'{split}-{kind}-idx{dims}-ubyte.gz' for split in ('train', 't10k')
               for kind, dims in (('images', 3), ('labels', 1))]
needs_mnist = pytest.mark.skipif(
    not all(os.path.exists(os.path.join(MNIST_DIR, f)) for f in MNIST_FILES),
    reason=f'the four MNIST IDX files ({", ".join(MNIST_FILES)}) are not all in {MNIST_DIR} '
           f'(set MNIST_DIR)')


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
