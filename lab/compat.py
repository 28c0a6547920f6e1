"""What Chainer 7.8.1 needs of NumPy and Python that NumPy 2 and Python 3.12+ no longer have.

Chainer 7.8.1 (2020, the last release) was written for NumPy 1 and Python up to 3.8. Two things
it uses are gone; nothing else of it is changed:

1. `np.sctypes` (removed in NumPy 2.0): chainer/functions/array/as_strided.py reads
   np.sctypes['int'] when it is imported and np.sctypes['float'] in its backward.
   Restored: **this adds `numpy.sctypes` to NumPy's own namespace** (every library in the process
   sees it), the same dict NumPy 1.26 had: 'int', 'uint', 'float', 'complex', 'others'.
2. `numpy.distutils.system_info` (numpy.distutils is gone on Python 3.12 and later):
   chainer/_environment_check.py imports it when Chainer is imported, to look on macOS only for
   Apple's Accelerate behind NumPy (a NumPy 1 problem). Restored *while Chainer is imported
   only*: a stand-in module whose get_info() finds nothing; it is taken out of sys.modules and
   of the numpy module again once `import chainer` is done, so no other library sees it.

Each is restored only where it is missing: on a stack that has them, nothing is done.
It takes effect before Chainer is imported: `make setup` installs this file into the
environment (as the module `chainer_compat`) with a .pth line that runs when Python starts,
so the scripts, the tests, a user's
`python -c "import chainer"` and a notebook all get it; install() puts a finder in front of
Python's import system that does its work when, and only when, `chainer` is first imported (a
start of Python costs no NumPy import). The scripts also import this module before Chainer.

check() compares the versions of this environment with the ranges the project supports, for
the scripts' one-line refusals. `python lab/compat.py install` is what `make setup` runs;
`python lab/compat.py` prints what would be restored here and any version problem.
"""
import sys

PYTHONS = ((3, 10), (3, 13))  # the first and last Python minor versions tested
NUMPY = ((2, 0), (2, 5))      # NumPy 2.0 to 2.5 (numba 0.68.1 takes < 2.6)
CHAINER = '7.8.1'
PTH = 'chainer_compat.pth'


def sctypes():
    """NumPy 1.26's np.sctypes, rebuilt from the types NumPy 2 still has."""
    import numpy as np
    return {'int': [np.int8, np.int16, np.int32, np.int64],
            'uint': [np.uint8, np.uint16, np.uint32, np.uint64],
            'float': [np.float16, np.float32, np.float64, np.longdouble],
            'complex': [np.complex64, np.complex128, np.clongdouble],
            'others': [bool, object, bytes, str, np.void]}


def missing():
    """What Chainer needs and this stack lacks: 'numpy.sctypes', 'numpy.distutils'."""
    import importlib.util

    import numpy as np
    gone = [] if hasattr(np, 'sctypes') else ['numpy.sctypes']
    try:
        has_distutils = importlib.util.find_spec('numpy.distutils') is not None
    except ValueError:  # in sys.modules without a spec: a stand-in is there already
        has_distutils = True
    return gone + ([] if has_distutils else ['numpy.distutils'])


def restore():
    """Put back what is missing (see the docstring). Returns the stand-in modules it added to
    sys.modules, for take_out() once Chainer is imported."""
    import types

    import numpy as np
    gone = missing()
    if 'numpy.sctypes' in gone:
        np.sctypes = sctypes()
    if 'numpy.distutils' not in gone:
        return {}
    package = types.ModuleType('numpy.distutils', 'chainer_compat: a stand-in while Chainer is '
                                                  'imported (numpy.distutils is gone)')
    package.__path__ = []
    package.system_info = types.ModuleType('numpy.distutils.system_info',
                                           'chainer_compat: get_info() finds nothing')
    package.system_info.get_info = lambda name, notfound_action=0: {}
    added = {'numpy.distutils': package, 'numpy.distutils.system_info': package.system_info}
    sys.modules.update(added)
    return added


def take_out(added):
    """Remove the stand-ins from sys.modules and from the numpy module's attributes."""
    import numpy as np
    for name, module in added.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]
    if added and np.__dict__.get('distutils') is added['numpy.distutils']:
        del np.distutils


class _Loader:
    """Chainer's own loader, with restore() before and the stand-ins taken out after."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        added = restore()
        try:
            self.loader.exec_module(module)
        finally:
            take_out(added)


class _Finder:
    """Finds nothing itself; on the first `import chainer`, wraps Chainer's loader."""
    chainer_compat = True  # one finder, whichever copy of this module installed it

    def find_spec(self, name, path=None, target=None):
        if name != 'chainer':
            return None
        import importlib.util
        sys.meta_path.remove(self)  # once; the search below must not find this finder again
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def install():
    """Make the next `import chainer` restore what is missing first (at most one finder)."""
    if 'chainer' in sys.modules:  # imported already: np.sctypes can still help its backward
        take_out(restore())
    elif not any(getattr(f, 'chainer_compat', False) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def version_tuple(text):
    import re
    return tuple(int(part) for part in re.findall(r'\d+', text)[:2])


def check():
    """One line for each version of this environment outside the supported range (Python,
    NumPy, Chainer), read without importing NumPy or Chainer; [] when all are in range."""
    from importlib.metadata import PackageNotFoundError, version
    (first, last), problems = PYTHONS, []
    python = sys.version_info[:2]
    if not first <= python <= last:
        problems.append(f'Python {python[0]}.{python[1]} is not supported: this project runs on '
                        f'Python {first[0]}.{first[1]} to {last[0]}.{last[1]} (make setup '
                        f'PYTHON=python3.{last[1]})')
    for name, ok, wanted in (
            ('numpy', lambda v: NUMPY[0] <= version_tuple(v) <= NUMPY[1],
             f'{NUMPY[0][0]}.{NUMPY[0][1]} to {NUMPY[1][0]}.{NUMPY[1][1]}'),
            ('chainer', lambda v: v == CHAINER, CHAINER)):
        try:
            found = version(name)
        except PackageNotFoundError:
            found = None
        if found is None or not ok(found):
            problems.append(f'{name} {found or "(not installed)"} is not supported: this project '
                            f'needs {name} {wanted} (make setup installs it)')
    return problems


def install_pth():
    """Copy this file into site-packages, as chainer_compat.py, with a .pth line that calls
    install() at start-up."""
    import os
    import py_compile
    import shutil
    import sysconfig
    site = sysconfig.get_paths()['purelib']
    target = os.path.join(site, 'chainer_compat.py')
    shutil.copyfile(__file__, target)
    py_compile.compile(target)  # a start reads no source
    with open(os.path.join(site, PTH), 'w') as f:
        f.write('import chainer_compat; chainer_compat.install()\n')
    print(f'installed {PTH} in {site}')


install()  # imported before Chainer (by the .pth, or by a script): it comes first

if __name__ == '__main__':
    if sys.argv[1:] == ['install']:
        install_pth()
    elif sys.argv[1:]:
        sys.exit(f'usage: python {sys.argv[0]} [install]')
    else:
        print('restored for Chainer here:', ', '.join(missing()) or 'nothing (none is missing)')
        print('\n'.join(check()) or 'versions: in range')
