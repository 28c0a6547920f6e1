import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# The official MNIST test set beside the project (never committed into it).
MNIST_DIR = os.environ.get('MNIST_DIR') or os.path.join(ROOT, '..', 'shared', 'data', 'mnist')
needs_mnist = pytest.mark.skipif(
    not os.path.exists(os.path.join(MNIST_DIR, 't10k-images-idx3-ubyte.gz')),
    reason=f'MNIST IDX files not found in {MNIST_DIR} (set MNIST_DIR)')


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
