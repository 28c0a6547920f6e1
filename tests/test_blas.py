"""NumPy's OpenBLAS kernel (openblas_core.py): chosen before NumPy loads, never against the
user, and accurate on the products the models compute."""
import os
import subprocess
import sys
import sysconfig

import pytest

import openblas_core as oc

_, FLAGS = oc.cpu()
LIBRARY = oc.numpy_openblas()
needs_openblas = pytest.mark.skipif(LIBRARY is None, reason="NumPy here has no bundled OpenBLAS")
INSTALLED = os.path.exists(os.path.join(sysconfig.get_paths()['purelib'], oc.PTH))
needs_setup = pytest.mark.skipif(
    sys.prefix == sys.base_prefix and not INSTALLED,
    reason='not in a virtual environment made by make setup (no openblas_core.pth)')

AVX512 = ' '.join(sorted(oc.AVX512))


def test_generic_kernel_on_a_capable_cpu_gets_the_one_its_flags_allow():
    assert oc.decide('Prescott', set(f'sse3 avx2 fma {AVX512}'.split())) == 'SkylakeX'
    assert oc.decide('Prescott', {'sse3', 'avx', 'avx2', 'fma'}) == 'Haswell'
    assert oc.decide('Nehalem', {'sse3', 'avx', 'avx2', 'fma'}) == 'Haswell'
    assert oc.decide('Prescott', {'sse3', 'avx'}) is None  # nothing better to give it
    for detected in ('Haswell', 'Zen', 'SkylakeX', 'SapphireRapids'):  # detection worked
        assert oc.decide(detected, set(f'avx2 fma {AVX512}'.split())) is None


def test_the_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / 'cpuinfo'
    cpuinfo.write_text('vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n'
                       f'flags\t\t: fpu sse3 avx2 fma {AVX512}\n\nprocessor\t: 1\nflags : x\n')
    signature, flags = oc.cpu(str(cpuinfo))
    assert 'GenuineIntel 6 207' in signature and oc.kernel_for(flags) == 'SkylakeX'


def test_the_probe_runs_once_then_the_cache_answers(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(oc, 'cpu', lambda: ('a cpu', {'avx2', 'fma'}))
    monkeypatch.setattr(oc, 'detect', lambda library: calls.append(library) or 'Prescott')
    cache = str(tmp_path / 'core.txt')
    assert oc.cached_decision('/x/libopenblas.so', cache) == ('Prescott', 'Haswell')
    assert oc.cached_decision('/x/libopenblas.so', cache) == ('Prescott', 'Haswell')
    assert calls == ['/x/libopenblas.so']
    assert oc.cached_decision('/x/libopenblas-other.so', cache) == ('Prescott', 'Haswell')
    assert len(calls) == 2  # another library is probed on its own


@needs_openblas
def test_the_probe_reads_openblas_own_choice():
    """The child process reports the kernel OpenBLAS picks by itself: with the variable set in
    the probe's parent it is still unset in the probe."""
    detected = oc.detect(LIBRARY)
    assert detected
    env = dict(os.environ, OPENBLAS_CORETYPE='Prescott')
    out = subprocess.run([sys.executable, '-c', 'import openblas_core as o; '
                          'print(o.detect(o.numpy_openblas()))'], env=env, capture_output=True,
                         text=True, cwd=os.path.dirname(oc.__file__)).stdout.strip()
    assert out == detected


def core_in_a_new_process(**env):
    """The kernel NumPy's OpenBLAS runs in a fresh `python -c` of this environment that
    imports NumPy before anything of this project's."""
    environ = {k: v for k, v in os.environ.items() if k != 'OPENBLAS_CORETYPE'}
    environ.update(env)
    code = ('import numpy, threadpoolctl; print(next(i["architecture"] for i in '
            'threadpoolctl.threadpool_info() if "numpy" in i["filepath"]))')
    return subprocess.run([sys.executable, '-c', code], env=environ, capture_output=True,
                          text=True, cwd='/').stdout.strip()


@needs_openblas
@needs_setup
def test_every_process_of_the_environment_runs_the_chosen_kernel():
    """Here: OpenBLAS's own choice where it uses AVX2 already, else the one the flags allow."""
    detected = oc.detect(LIBRARY)
    expected = oc.decide(detected, FLAGS) or detected
    assert core_in_a_new_process().lower() == expected.lower()


@needs_openblas
@needs_setup
@pytest.mark.skipif(not {'avx2', 'fma'} <= FLAGS, reason='the CPU has no AVX2')
def test_a_generic_detection_is_replaced_before_numpy_loads(tmp_path):
    """As on a CPU OpenBLAS 0.3.23 does not know: the cached probe says Prescott."""
    signature, _ = oc.cpu()
    cache = tmp_path / 'core.txt'
    key = (f'{oc.zlib.crc32(signature.encode()):08x}-'
           f'{oc.zlib.crc32(os.path.basename(LIBRARY).encode()):08x}')
    cache.write_text(f'{key} Prescott {oc.kernel_for(FLAGS)}\n')
    assert core_in_a_new_process(OPENBLAS_CORE_CACHE=str(cache)) == oc.kernel_for(FLAGS)


@needs_openblas
@needs_setup
def test_the_users_own_coretype_is_kept(tmp_path):
    cache = tmp_path / 'core.txt'
    assert core_in_a_new_process(OPENBLAS_CORETYPE='Prescott',
                                 OPENBLAS_CORE_CACHE=str(cache)) == 'Prescott'
    assert not cache.exists()  # nothing probed, nothing decided


PRODUCTS = '''
import numpy as np, sys
rng = np.random.default_rng(0)
worst = 0.
for batch, n_in, n_out in [(100, 784, 100), (1000, 784, 100), (100, 784, 1000), (100, 1000, 500),
                           (100, 500, 250), (100, 250, 30), (2500, 784, 100)]:
    x = rng.random((batch, n_in), dtype=np.float32)
    w = (rng.standard_normal((n_out, n_in)) / n_in ** .5).astype(np.float32)
    gy = rng.standard_normal((batch, n_out)).astype(np.float32)
    for got, exact in ((x @ w.T, x.astype(float) @ w.T.astype(float)),      # forward
                       (gy @ w, gy.astype(float) @ w.astype(float)),        # gradient of x
                       (gy.T @ x, gy.T.astype(float) @ x.astype(float))):  # gradient of W
        scale = np.abs(exact).max()
        worst = max(worst, float(np.abs(got - exact).max() / scale))
print(worst)
'''


@needs_openblas
@pytest.mark.parametrize('core', [None, 'Prescott', 'Haswell', 'SkylakeX'])
def test_products_match_float64_with_every_kernel_the_cpu_runs(core):
    """The three products of every layer shape of the models (forward, gradients), batch
    100, 1000 and the evaluation's 2500, against float64, relative to the largest value."""
    if core and core != 'Prescott' and oc.kernel_for(FLAGS) not in (core, 'SkylakeX'):
        pytest.skip(f'the CPU cannot run the {core} kernel')
    env = {k: v for k, v in os.environ.items() if k != 'OPENBLAS_CORETYPE'}
    env.update({'OPENBLAS_CORETYPE': core} if core else {})
    out = subprocess.run([sys.executable, '-c', PRODUCTS], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert float(out) < 1e-5
