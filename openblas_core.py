"""The right OpenBLAS kernel for NumPy on CPUs its OpenBLAS does not recognise.

NumPy 1.26's wheels (Chainer 7.8.1 needs NumPy < 2) bundle OpenBLAS 0.3.23, which picks its
matrix-product kernels from the CPU's model number. On Intel models newer than it knows
(13th and 14th-generation Core, Core Ultra, Emerald and Granite Rapids servers) it falls back
to its generic SSE3 kernels, "Prescott", although the CPU has AVX2 or AVX-512: products run
2 to 4 times slower (OpenBLAS issue #4267, fixed in 0.3.25, which NumPy 1.26 never shipped).
OpenBLAS reads OPENBLAS_CORETYPE when it is loaded, so the choice has to be made before NumPy
is imported, in every process: `make setup` installs this file into the virtual
environment's site-packages with a .pth line that runs choose() when Python starts.

choose() does nothing when OPENBLAS_CORETYPE is set already (a user's choice is kept), or
when OpenBLAS detects a kernel with AVX2 (detection works). Otherwise it asks OpenBLAS what
it would pick (a child process that loads NumPy's OpenBLAS without NumPy) and, for a
generic kernel, sets SkylakeX where the CPU has AVX-512 or Haswell where it has AVX2. The
answer is cached in the environment per CPU (OPENBLAS_CORE_CACHE names another file), so a
start costs reading /proc/cpuinfo.

    python openblas_core.py             what OpenBLAS detects here, and what is chosen
    python openblas_core.py install     put this file and its .pth into this Python's
                                        site-packages (what `make setup` does)
"""
import os
import sys
import zlib

VARIABLE = 'OPENBLAS_CORETYPE'
WITH_AVX2 = {'haswell', 'zen', 'skylakex', 'cooperlake', 'sapphirerapids'}  # 0.3.23's names
AVX512 = {'avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'}  # what SkylakeX uses
CACHE = os.environ.get('OPENBLAS_CORE_CACHE', os.path.join(sys.prefix, 'openblas-core.txt'))
PTH = 'openblas_core.pth'


def cpu(path='/proc/cpuinfo'):
    """(signature, flags) of the first processor: vendor, family, model and flags."""
    with open(path) as f:
        fields = {}
        for line in f:
            if not line.strip():
                break
            key, _, value = line.partition(':')
            fields[key.strip()] = value.strip()
    flags = set(fields.get('flags', '').split())
    signature = ' '.join(fields.get(k, '') for k in ('vendor_id', 'cpu family', 'model',
                                                      'model name', 'flags'))
    return signature, flags


def kernel_for(flags):
    """The best OpenBLAS 0.3.23 kernel for a CPU with these flags, or None."""
    if AVX512 <= flags:
        return 'SkylakeX'
    if {'avx2', 'fma'} <= flags:
        return 'Haswell'
    return None


def decide(detected, flags):
    """The OPENBLAS_CORETYPE to set when OpenBLAS detected `detected`, or None: nothing to
    fix where the detected kernel uses AVX2 already, or the CPU has neither AVX2 nor AVX-512."""
    if not detected or detected.lower() in WITH_AVX2:
        return None
    return kernel_for(flags)


def numpy_openblas():
    """The path of the OpenBLAS library in NumPy's wheel, without importing NumPy; or None."""
    for folder in sys.path:
        libs = os.path.join(folder or '.', 'numpy.libs')
        if os.path.isdir(os.path.join(folder or '.', 'numpy')) and os.path.isdir(libs):
            found = sorted(name for name in os.listdir(libs) if name.startswith('libopenblas'))
            return os.path.join(libs, found[0]) if found else None
    return None


PROBE = '''import ctypes, glob, os, sys
deps = [p for p in glob.glob(os.path.join(os.path.dirname(sys.argv[1]), 'lib*.so*'))
        if p != sys.argv[1]]  # libgfortran, libquadmath: linked without an rpath
for _ in range(len(deps)):  # in an order that loads each after what it needs
    for dep in list(deps):
        try:
            ctypes.CDLL(dep, mode=ctypes.RTLD_GLOBAL); deps.remove(dep)
        except OSError:
            pass
lib = ctypes.CDLL(sys.argv[1])
for name in ('openblas_get_corename64_', 'openblas_get_corename'):
    if hasattr(lib, name):
        f = getattr(lib, name); f.restype = ctypes.c_char_p; print(f().decode()); break'''


def detect(library):
    """The kernel OpenBLAS picks by itself here: asked in a child process (python -S, so no
    .pth runs there), with OPENBLAS_CORETYPE unset."""
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    result = subprocess.run([sys.executable, '-S', '-c', PROBE, library], env=env,
                            capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or None


def cached_decision(library, cache=None):
    """(detected, chosen) for this CPU and library: probed once, then read from `cache`, a
    text file of lines 'key detected chosen' (chosen '-' for none)."""
    cache = cache or CACHE
    signature, flags = cpu()
    key = f'{zlib.crc32(signature.encode()):08x}-{zlib.crc32(os.path.basename(library).encode()):08x}'
    try:
        with open(cache) as f:
            known = dict((line.split()[0], line.split()[1:]) for line in f if line.strip())
    except (OSError, IndexError):
        known = {}
    if len(known.get(key, ())) != 2:
        detected = detect(library) or '-'
        known[key] = [detected, decide(detected, flags) or '-']
        try:  # atomically; a read-only environment just probes again next time
            tmp = f'{cache}.{os.getpid()}.tmp'
            with open(tmp, 'w') as f:
                f.writelines(f'{k} {" ".join(v)}\n' for k, v in known.items())
            os.replace(tmp, cache)
        except OSError:
            pass
    detected, chosen = known[key]
    return (None if detected == '-' else detected), (None if chosen == '-' else chosen)


def choose():
    """Set OPENBLAS_CORETYPE for this process and its children where OpenBLAS would fall back
    to a generic kernel. Never raises: at worst it leaves things as they were."""
    try:
        if VARIABLE in os.environ or not sys.platform.startswith('linux'):
            return
        library = numpy_openblas()
        chosen = library and cached_decision(library)[1]
        if chosen:
            os.environ[VARIABLE] = chosen
    except Exception:
        pass


def core():
    """What NumPy's OpenBLAS runs, for run records and benchmark headers (imports NumPy)."""
    import numpy  # noqa: F401  (loads OpenBLAS)
    from threadpoolctl import threadpool_info
    blas = next((i for i in threadpool_info() if 'numpy' in i.get('filepath', '')), None)
    if blas is None:
        return dict(library=None)
    return dict(library=blas.get('internal_api'), version=blas.get('version'),
                core=blas.get('architecture'), OPENBLAS_CORETYPE=os.environ.get(VARIABLE))


def install():
    """Copy this file into site-packages with a .pth line that calls choose() at start-up."""
    import py_compile
    import shutil
    import sysconfig
    site = sysconfig.get_paths()['purelib']
    shutil.copyfile(__file__, os.path.join(site, 'openblas_core.py'))
    py_compile.compile(os.path.join(site, 'openblas_core.py'))  # a start reads no source
    with open(os.path.join(site, PTH), 'w') as f:
        f.write('import openblas_core; openblas_core.choose()\n')
    if os.path.exists(CACHE):
        os.remove(CACHE)  # probed again with the installed code
    print(f'installed {PTH} in {site}')


if __name__ == '__main__':
    if sys.argv[1:] == ['install']:
        install()
    elif sys.argv[1:]:
        sys.exit(f'usage: python {sys.argv[0]} [install]')
    else:
        library = numpy_openblas()
        _, flags = cpu()
        detected = library and detect(library)
        print(f'library: {library}\nOpenBLAS detects: {detected}\n'
              f'chosen: {decide(detected, flags) if detected else None}\n'
              f'{VARIABLE} in this process: {os.environ.get(VARIABLE)}')
