"""The imports point one way (docs/architecture.md): from what a user types towards the
machinery. Every import of every module is read, those inside functions too."""
import ast
import re
import glob
import os

import pytest
from conftest import ROOT

SCRIPTS = {'autoencoder', 'deep_autoencoder', 'conv_autoencoder', 'variational_autoencoder'}  # the research scripts
COMMANDS = {'reproduce', 'search'}  # what a user types; nothing imports them


def project_imports(path):
    """The project's own modules that the file at `path` imports ('lab.run', 'utils', ...)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f'{node.module}.{alias.name}' for alias in node.names]
        else:
            continue
        found |= {n for n in names if n.split('.')[0] in SCRIPTS | COMMANDS | {'lab', 'utils'}}
    return found


def modules(pattern):
    return sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True))


def relative(path):
    return os.path.relpath(path, ROOT)


@pytest.mark.parametrize('path', modules('*.py') + modules('lab/**/*.py')
                         + modules('benchmarks/*.py'), ids=relative)
def test_no_import_points_the_wrong_way(path):
    where, imports = relative(path), project_imports(path)
    tops = {name.split('.')[0] for name in imports}
    assert not tops & COMMANDS, f'{where} imports a command as a library: {tops & COMMANDS}'
    if where.startswith('lab/') and not where.startswith('lab/experiments/'):
        assert not tops & SCRIPTS, f'the machinery {where} imports a research script'
        assert 'utils' not in tops, f'the machinery {where} imports the top level (utils)'
        assert not any(n.startswith('lab.experiments') for n in imports), where
    if where[:-3] in SCRIPTS:
        assert not any(n.startswith('lab.experiments') for n in imports), where
    if where == 'utils.py':
        assert {n for n in imports if n.startswith('lab')} <= {
            'lab.files', 'lab.files.atomic_path', 'lab.options', 'lab.options.ConfigError',
            'lab.options.DATASETS', 'lab.options.check_choice', 'lab.options.check_split'}


def test_no_two_modules_of_the_package_import_each_other():
    """No cycle among the modules of lab/, through any chain of imports (those inside
    functions too): each one's job can be read without the ones that use it."""
    name = lambda path: relative(path)[:-3].replace('/', '.')  # noqa: E731
    graph = {name(p): {n for n in project_imports(p) if n.startswith('lab.')}
             for p in modules('lab/**/*.py') if not p.endswith('__init__.py')}
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}

    def reaches(start, goal, seen):
        return any(d == goal or (d not in seen and not seen.add(d) and reaches(d, goal, seen))
                   for d in graph[start])
    assert not [m for m in graph if reaches(m, m, set())]


def test_the_layout_is_the_one_written_down():
    """Every module of the package has its line in docs/architecture.md, and the top level
    holds what a user types and reads, nothing else of Python."""
    with open(os.path.join(ROOT, 'docs', 'architecture.md')) as f:
        doc = f.read()
    for path in modules('lab/*.py'):
        if not path.endswith('__init__.py'):
            assert f'`{relative(path)}`' in doc, relative(path)
    top = {relative(p) for p in modules('*.py')}
    assert top == {f'{script}.py' for script in SCRIPTS} | {'utils.py', 'reproduce.py',
                                                            'search.py'}


IMPORT_NAMES = {'sklearn': 'scikit-learn', 'PIL': 'pillow', 'yaml': 'pyyaml', 'jinja2': 'jinja2',
                'chainermn': 'chainer', 'optuna_dashboard': 'optuna-dashboard'}


def third_party(paths):
    """The distributions (PyPI names) that the files at `paths` import, beside the standard
    library and the project's own modules."""
    import sys
    own = SCRIPTS | COMMANDS | {'lab', 'utils', 'conftest', 'numerics', 'bench', 'conv_bench',
                                'peers', 'kernel_onoff'}
    # tomllib is standard from Python 3.11; on 3.10 the tests import tomli, which
    # requirements-dev.txt declares for that version
    stdlib = set(sys.stdlib_module_names) | {'tomllib'}
    found = set()
    for path in paths:
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.split('.')[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split('.')[0]]
            else:
                continue
            found |= {IMPORT_NAMES.get(t, t).replace('_', '-').lower() for t in tops
                      if t not in stdlib and t not in own}
    return found


def declared(*files):
    """The distributions named in requirements files (every line's name, markers aside)."""
    names = set()
    for name in files:
        with open(os.path.join(ROOT, name)) as f:
            names |= {re.split(r'[=<>;\[ ]', line.strip())[0].lower() for line in f
                      if line.strip() and not line.startswith('#')}
    return names


def test_every_package_the_code_imports_is_declared():
    """The scripts and lab/ import only what requirements.txt and pyproject.toml name; the
    tests, what they and requirements-dev.txt (and the optional extras they skip without) name;
    the benchmarks, what requirements-bench.txt adds (PyTorch: make bench-setup)."""
    with open(os.path.join(ROOT, 'pyproject.toml')) as f:
        pyproject = f.read()
    runtime = third_party(modules('*.py') + modules('lab/**/*.py'))
    assert runtime <= declared('requirements.txt'), runtime - declared('requirements.txt')
    assert all(f'"{name}' in pyproject for name in runtime), runtime
    tests = third_party(modules('tests/*.py'))
    extras = declared('requirements.txt', 'requirements-dev.txt', 'requirements-mpi.txt',
                      'requirements-dashboard.txt')
    assert tests <= extras, tests - extras
    bench = third_party(modules('benchmarks/*.py'))
    assert bench <= extras | declared('requirements-bench.txt') | {'torch'}, bench
