"""Data-parallel scaling with ChainerMN: `make bench-mpi` (a command, not a test).

Runs `python autoencoder.py` (the __main__ model: 784 -> 100, relu, AdaDelta, noise .30,
dropout .10) alone, then under `mpiexec -n 1` and `mpiexec -n 2` with --communicator naive,
with the same global batch size, and reads each run's seconds per epoch and test loss from
its run.json. The two-process rows are run with the BLAS threads each process would take by
default and with one thread each (OMP_NUM_THREADS=1), since two processes of two threads
each oversubscribe two cores.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from lab import machine, report  # noqa: E402
from lab.files import write_json  # noqa: E402

TEMPLATES = os.path.join(ROOT, 'benchmarks', 'templates')
MPI_FLAGS = ['--allow-run-as-root', '--oversubscribe']  # root, and more processes than cores


def launch(processes, threads, batchsize, epoch, dataset, out):
    """One run; its run.json. processes 0: no MPI at all."""
    command = [sys.executable, '-W', 'ignore', os.path.join(ROOT, 'autoencoder.py'),
               '--dataset', dataset, '--epoch', str(epoch), '--batchsize', str(batchsize),
               '--out', out]
    if processes:
        command = ['mpiexec', *MPI_FLAGS, '-n', str(processes), *command, '--communicator', 'naive']
    env = dict(os.environ, **({'OMP_NUM_THREADS': str(threads)} if threads else {}))
    subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    (path,) = [os.path.join(d, f) for d, _, files in os.walk(out) for f in files
               if f.endswith('run.json')]
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epoch', type=int, default=10, help='epochs per run')
    p.add_argument('--batchsize', type=int, nargs='+', default=[100, 1000],
                   help='global minibatch sizes')
    p.add_argument('--dataset', default='auto', choices=('auto', 'mnist', 'digits'))
    p.add_argument('--json', metavar='PATH', help='also write the results as JSON')
    p.add_argument('--markdown', metavar='PATH',
                   help='also write the table between the mpi-scaling markers of this Markdown '
                        'file (docs/engineering.md), and its numbers as JSON beside it')
    args = p.parse_args(argv)
    if shutil.which('mpiexec') is None:
        p.exit(2, f'{p.prog}: error: mpiexec not found (make mpi-setup)\n')
    setups = [('alone (no MPI)', 0, None), ('mpiexec -n 1', 1, None),
              ('mpiexec -n 2', 2, None), ('mpiexec -n 2, OMP_NUM_THREADS=1', 2, 1)]
    rows = []
    for batchsize in args.batchsize:
        for label, processes, threads in setups:
            with tempfile.TemporaryDirectory() as out:
                record = launch(processes, threads, batchsize, args.epoch, args.dataset, out)
            rows.append(dict(setup=label, batchsize=batchsize, processes=processes or 1,
                             seconds_per_epoch=statistics.median(record['seconds_per_epoch']),
                             test_mse=record['test_loss_values'][-1]))
    for row in rows:
        alone = next(r for r in rows if r['batchsize'] == row['batchsize'])['seconds_per_epoch']
        row['speedup'] = alone / row['seconds_per_epoch']
    numbers = dict(command=' '.join(['python benchmarks/mpi_scaling.py',
                                     *(sys.argv[1:] if argv is None else argv)]),
                   data=record['dataset'], epoch=args.epoch, seed=record['arguments']['seed'],
                   **machine.describe(), date=time.strftime('%Y-%m-%d'), rows=rows)
    print(report.render('mpi-scaling.md.j2', TEMPLATES, **numbers))
    if args.json:
        write_json(args.json, numbers)
    if args.markdown:
        report.write_block(args.markdown, 'mpi-scaling', numbers, TEMPLATES)
    return 0


if __name__ == '__main__':
    sys.exit(main())
