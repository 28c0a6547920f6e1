"""The machine and the stack a number was computed on, and the one way of saying them.

stack()      what a run records (run.json's `versions`, `trained_on`): CPU, Python, Chainer,
             NumPy and NumPy's BLAS (its library, version, kernel and threads)
describe()   the machine in words, for a page's header: its CPU, cores and stack
computed_on()  the machines a run's training ran on, in words, from its record
"""
import os
import platform
import sys


def stack():
    """What a run is computed on: the CPU, Python, Chainer, NumPy and NumPy's BLAS."""
    import chainer
    import numpy as np
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
    (threadpoolctl), and OPENBLAS_CORETYPE where it is set."""
    from threadpoolctl import threadpool_info
    blas = next((i for i in threadpool_info() if i.get('user_api') == 'blas'
                 and 'numpy' in i.get('filepath', '')), None)
    if blas is None:
        return dict(library=None)
    return dict(library=blas.get('internal_api'), version=blas.get('version'),
                core=blas.get('architecture'), threads=blas.get('num_threads'),
                OPENBLAS_CORETYPE=os.environ.get('OPENBLAS_CORETYPE'))


def describe():
    """{machine, versions}: the CPU and its cores; Python, NumPy, Chainer and NumPy's BLAS with
    its kernel (and OPENBLAS_CORETYPE where it chose it). Every generated page's header."""
    here = stack()
    blas, chosen = here['blas'], here['blas'].get('OPENBLAS_CORETYPE')
    return dict(machine=f'{here["cpu"]}, {os.cpu_count()} cores',
                versions=f'Python {here["python"]}, NumPy {here["numpy"]}, Chainer '
                         f'{here["chainer"]}, ' + ('not OpenBLAS' if not blas['library'] else
                                                   f'{blas["library"]} {blas["version"]} '
                                                   f'({blas["core"]} kernel')
                + (f', OPENBLAS_CORETYPE={chosen})' if chosen else ')' * bool(blas['library'])))


def computed_on(record):
    """The machines and stacks a run's training ran on, in words, in order ('then' where it
    was resumed on another): CPU, NumPy, BLAS kernel and threads. Runs from before these were
    recorded have only the stack their outputs were written with."""
    def words(stack):
        if stack is None:
            return 'not recorded'
        blas = stack.get('blas') or {}
        threads = blas.get('threads')
        return (f'{stack.get("cpu") or "CPU not recorded"}, NumPy {stack.get("numpy")}, '
                f'{blas.get("library")} ({blas.get("core")} kernel'
                + (f', {threads} thread{"s" * (threads != 1)})' if threads else ')'))
    return ', then '.join(map(words, record.get('trained_on') or [record.get('versions')]))
