"""lab/compat.py: Chainer 7.8.1 on NumPy 2 and Python 3.12+, and the version checks."""
import os
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
from conftest import ROOT, command

from lab import compat as chainer_compat  # installed into the environment as chainer_compat


def in_a_new_process(code, cwd):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason='not in a virtual environment')
def test_a_users_own_import_chainer_in_the_environment_gets_the_layer(tmp_path):
    """From a folder outside the project, as a notebook or `python -c` would: the .pth that make
    setup installs is what makes it work."""
    site = sysconfig.get_paths()['purelib']
    assert os.path.exists(os.path.join(site, chainer_compat.PTH))
    code = ('import sys, numpy, chainer, chainer.functions as F\n'
            'x = chainer.Variable(numpy.arange(6, dtype=numpy.float32))\n'
            'y = F.as_strided(x, (2, 3), (3, 1))\n'  # np.sctypes, at import and in backward
            'F.sum(y * y).backward()\n'
            'print(chainer.__version__, x.grad.tolist(), "numpy.distutils" in sys.modules)')
    result = in_a_new_process(code, tmp_path)
    assert result.returncode == 0, result.stderr
    version, *_ = result.stdout.split()
    assert version == '7.8.1'
    assert '[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]' in result.stdout


def test_the_stand_in_lives_only_while_chainer_is_imported(tmp_path):
    """numpy.distutils is a stand-in only where NumPy has none (Python 3.12+), and no other
    library sees it after `import chainer`."""
    code = ('import sys; sys.path.insert(0, %r)\n'
            'import importlib.util, lab.compat\n'
            'had = importlib.util.find_spec("numpy.distutils") is not None\n'
            'import chainer, numpy\n'
            'stand_in = "chainer_compat" in (getattr(sys.modules.get("numpy.distutils"), '
            '"__doc__", "") or "") or "chainer_compat" in (getattr(getattr(numpy, "distutils", '
            'None), "__doc__", "") or "")\n'
            'print(had, stand_in, sorted(numpy.sctypes))' % ROOT)
    result = in_a_new_process(code, tmp_path)
    assert result.returncode == 0, result.stderr
    had, stand_in, *_ = result.stdout.split()
    assert stand_in == 'False'
    assert "['complex', 'float', 'int', 'others', 'uint']" in result.stdout


def test_nothing_is_restored_where_nothing_is_missing(monkeypatch):
    own = {'int': [np.int64]}
    monkeypatch.setattr(np, 'sctypes', own, raising=False)
    import importlib.util
    distutils_missing = importlib.util.find_spec('numpy.distutils') is None
    assert 'numpy.sctypes' not in chainer_compat.missing()
    added = chainer_compat.restore()
    assert np.sctypes is own
    assert bool(added) == distutils_missing
    chainer_compat.take_out(added)
    assert not any('chainer_compat' in (getattr(m, '__doc__', '') or '')
                   for name, m in sys.modules.items() if name.startswith('numpy.distutils'))


def test_the_restored_sctypes_are_numpy_1s():
    types = chainer_compat.sctypes()
    assert [t().itemsize for t in types['int']] == [1, 2, 4, 8]
    assert types['float'][:3] == [np.float16, np.float32, np.float64]


def test_this_environment_is_in_range():
    assert chainer_compat.check() == []


@pytest.mark.parametrize('setting, value, words', [
    ('NUMPY', ((3, 0), (3, 1)), f'numpy {np.__version__} is not supported: this project needs numpy 3.0 to 3.1'),
    ('CHAINER', '7.9.0', 'chainer 7.8.1 is not supported: this project needs chainer 7.9.0'),
    ('PYTHONS', ((3, 20), (3, 21)), f'Python {sys.version_info[0]}.{sys.version_info[1]} is not '
                                    f'supported: this project runs on Python 3.20 to 3.21'),
])
def test_a_version_out_of_range_is_one_line_before_any_work(monkeypatch, capsys, setting, value,
                                                             words):
    import autoencoder
    import reproduce
    import utils
    monkeypatch.setattr(chainer_compat, setting, value)
    monkeypatch.setattr(utils, 'load_mnist', lambda *a, **k: pytest.fail('data loaded'))
    for main in (lambda: command(autoencoder, ['--epoch', '1']),
                 lambda: reproduce.main(['--quick'])):
        try:
            status = main()
        except SystemExit as e:
            status = e.code
        assert status == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1
