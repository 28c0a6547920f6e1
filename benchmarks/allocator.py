"""Whether glibc's allocator, kept from returning large freed blocks to the system, shortens an
epoch (a command, not a test).

    MNIST_DIR=~/data/mnist python benchmarks/allocator.py --rows a c h \
        --markdown docs/engineering.md

NumPy's arrays of 128 KiB or more come from mmap and go back to the system when freed, so a
training step that allocates the same large temporaries every minibatch takes page faults each
time. mallopt(M_MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD) at 1 GiB keep them in the heap
(the process then holds its peak memory until it ends). Each row of benchmarks/kernel_onoff.py
named by --rows: one epoch in a fresh process with the setting and one without, interleaved,
--repeat times, 2 BLAS threads; the medians.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.join(ROOT, 'benchmarks', 'templates')
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def child(setting, row):
    """One epoch of `row` (after a short warm-up), its seconds printed as JSON."""
    if setting == 'kept':
        libc = ctypes.CDLL('libc.so.6')
        assert libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    sys.path[:0] = [ROOT, os.path.join(ROOT, 'benchmarks')]
    import lab.compat  # noqa: F401
    from threadpoolctl import threadpool_limits

    import kernel_onoff
    import utils
    (x_train, x_test), _ = utils.load_mnist(dataset='mnist', split='official')
    case = {name[1]: c for name, c in kernel_onoff.ROWS.items()}[row]
    with threadpool_limits(2):
        kernel_onoff.epoch_seconds(dict(case, rows=5000), None, x_train, x_test[:100])
        print(json.dumps(kernel_onoff.epoch_seconds(case, None, x_train, x_test[:100])))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', nargs='+', default=['a', 'c', 'h'],
                   help="letters of benchmarks/kernel_onoff.py's rows")
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--markdown', metavar='PATH', help='also write the allocator block of this '
                   'Markdown file (docs/engineering.md) and allocator.json beside it')
    args = p.parse_args(argv)
    sys.path[:0] = [ROOT, os.path.join(ROOT, 'benchmarks')]
    import kernel_onoff  # the rows
    from lab import machine, report
    names = {name[1]: name for name in kernel_onoff.ROWS}
    times = {(row, s): [] for row in args.rows for s in ('returned', 'kept')}
    for _ in range(args.repeat):
        for row, setting in times:
            out = subprocess.run([sys.executable, __file__, '--child', setting, row],
                                 capture_output=True, text=True, check=True).stdout
            times[row, setting].append(json.loads(out.strip().splitlines()[-1]))
    numbers = dict(command=' '.join(['python benchmarks/allocator.py', *(argv or sys.argv[1:])]),
                   **machine.describe(), date=time.strftime('%Y-%m-%d'), repeat=args.repeat,
                   rows=[dict(row=names[row], returned=statistics.median(times[row, 'returned']),
                              kept=statistics.median(times[row, 'kept'])) for row in args.rows])
    print(report.render('allocator.md.j2', TEMPLATES, **numbers))
    if args.markdown:
        report.write_block(args.markdown, 'allocator', numbers, TEMPLATES)


if __name__ == '__main__':
    if sys.argv[1:2] == ['--child']:
        child(*sys.argv[2:4])
    else:
        main()
