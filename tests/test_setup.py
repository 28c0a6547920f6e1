"""The set-up: the Python versions make setup accepts, and the locked versions it installs."""
import os
import re
import shutil
import subprocess

import pytest
from conftest import ROOT, full

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement

pytestmark = full  # make setup itself, and the environment it made: make test-all only


def pins(*files):
    """{(name, version, marker)} of the == lines of requirements files."""
    found = set()
    for name in files:
        with open(os.path.join(ROOT, name)) as f:
            for line in f:
                line = line.split('#')[0].strip()
                if line:
                    req = Requirement(line)
                    version, = [s.version for s in req.specifier if s.operator == '==']
                    found.add((req.name.lower(), version, str(req.marker or '')))
    return found


def test_requirements_pin_exactly_the_locked_versions():
    """requirements*.txt (pip's way) and uv.lock (uv's) name the same packages at the same
    versions, so either way a new clone installs what made the README's numbers."""
    with open(os.path.join(ROOT, 'uv.lock'), 'rb') as f:
        lock = tomllib.load(f)
    project = tomllib.load(open(os.path.join(ROOT, 'pyproject.toml'), 'rb'))['project']['name']
    locked = {(p['name'], p['version']) for p in lock['package'] if p['name'] != project}
    pinned = {(name, version) for name, version, _ in pins(
        'requirements.txt', 'requirements-dev.txt', 'requirements-dashboard.txt')}
    assert pinned == locked


def test_this_environment_has_the_pinned_versions():
    from importlib.metadata import PackageNotFoundError, version
    wrong = []
    for name, pinned, marker in pins('requirements.txt', 'requirements-dev.txt'):
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong.append(f'{name}: {installed} installed, {pinned} pinned')
    assert not wrong


def make_setup(tmp_path, **variables):
    """`make setup` in a copy of the set-up files, with these make variables."""
    for name in ('Makefile', 'requirements.txt', 'requirements-dev.txt', 'uv.lock',
                 'pyproject.toml', 'lab/compat.py'):
        os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    return subprocess.run(['make', 'setup', *(f'{k}={v}' for k, v in variables.items())],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=own_make_environment())


def own_make_environment(**changes):
    """This environment without what an enclosing `make test PYTHON=... VENV=...` passes down
    to the processes it starts (MAKEFLAGS, and the command line's variables themselves), so a
    test's make sees only the test's variables."""
    passed_down = ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'PYTHON', 'UV', 'VENV')
    env = {k: v for k, v in os.environ.items() if k not in passed_down}
    return dict(env, **changes)


def a_python(version):
    """An interpreter of that version here (on PATH or pyenv's), or None."""
    found = shutil.which(f'python{version}')
    candidates = [found] if found else []
    pyenv = os.path.expanduser('~/.pyenv/versions')
    if os.path.isdir(pyenv):
        candidates += [os.path.join(pyenv, v, 'bin', f'python{version}')
                       for v in sorted(os.listdir(pyenv)) if v.startswith(f'{version}.')]
    for path in candidates:
        probe = subprocess.run([path, '-c', 'import sys; print(sys.version_info[:2])'],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(map(int, version.split('.')))):
            return path
    return None


@pytest.mark.skipif(not shutil.which('make'), reason='no make')
@pytest.mark.parametrize('version', ['3.9', '3.8'])
def test_a_python_that_cannot_install_is_refused_before_anything_is_made(tmp_path, version):
    python = a_python(version)
    if python is None:
        pytest.skip(f'no Python {version} here')
    result = make_setup(tmp_path, PYTHON=python)
    assert result.returncode != 0
    assert f'is Python {version}; this project installs on Python 3.10 to 3.13' in result.stderr
    assert not (tmp_path / '.venv').exists()


@pytest.mark.skipif(not shutil.which('make'), reason='no make')
def test_a_python_without_ensurepip_is_refused_with_the_package_to_install(tmp_path):
    """Debian's and Ubuntu's Pythons lack ensurepip (and so venv) without python3.x-venv."""
    python = a_python('3.11') or a_python('3.10')
    if python is None:
        pytest.skip('no Python 3.10 or 3.11 here')
    shadow = tmp_path / 'shadow'
    shadow.mkdir()
    (shadow / 'ensurepip.py').write_text('raise ImportError("ensurepip removed by the test")\n')
    wrapper = tmp_path / 'python-without-ensurepip'
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={shadow} exec {python} "$@"\n')
    wrapper.chmod(0o755)
    result = make_setup(tmp_path, PYTHON=wrapper)
    assert result.returncode != 0
    version = '.'.join(re.findall(r'python(\d)\.(\d+)', python)[-1])
    assert f'lacks ensurepip; on Debian and Ubuntu: sudo apt install python{version}-venv' \
        in result.stderr
    assert not (tmp_path / '.venv').exists()


@pytest.mark.skipif(not shutil.which('make'), reason='no make')
def test_without_python_the_newest_supported_one_found_is_taken(tmp_path):
    found = {v: a_python(v) for v in ('3.9', '3.10', '3.11', '3.12', '3.13')}
    found = {v: p for v, p in found.items() if p}
    if len([v for v in found if v != '3.9']) < 2:
        pytest.skip('fewer than two supported Pythons here')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for version, path in found.items():
        os.symlink(path, bin_dir / f'python{version}')
    shutil.copy(os.path.join(ROOT, 'Makefile'), tmp_path)
    result = subprocess.run(['make', '--no-print-directory', '--eval',
                             'which-python: ; @echo $(PYTHON)', 'which-python'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=own_make_environment(PATH=f'{bin_dir}:/usr/bin:/bin'))
    newest = max((v for v in found if v != '3.9'), key=lambda v: tuple(map(int, v.split('.'))))
    assert result.stdout.strip() == str(bin_dir / f'python{newest}')


@pytest.mark.skipif(not shutil.which('make'), reason='no make')
def test_without_a_usable_python_or_uv_it_says_how_to_get_one(tmp_path):
    result = make_setup(tmp_path, PYTHON='', UV='')
    assert result.returncode != 0
    assert re.search(r'no Python 3\.10 to 3\.13 found; install one \(or uv', result.stderr)
    assert not (tmp_path / '.venv').exists()


def test_pyproject_accepts_the_pythons_the_makefile_does():
    project = tomllib.load(open(os.path.join(ROOT, 'pyproject.toml'), 'rb'))['project']
    assert project['requires-python'] == '>=3.10,<3.14'
    makefile = open(os.path.join(ROOT, 'Makefile')).read()
    assert 'SUPPORTED := (3, 10) <= sys.version_info[:2] <= (3, 13)' in makefile
    from lab import compat as chainer_compat
    assert chainer_compat.PYTHONS == ((3, 10), (3, 13))
