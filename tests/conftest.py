import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# All of MNIST (the four official IDX files) beside the project, never committed into it.
MNIST_DIR = os.environ.get('MNIST_DIR') or os.path.join(ROOT, '..', 'shared', 'data', 'mnist')
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
