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
