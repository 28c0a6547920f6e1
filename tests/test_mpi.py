"""Data-parallel training with ChainerMN under a real `mpiexec -n 2` (make mpi-setup)."""
import importlib.util
import json
import os
import shutil

import pytest
from conftest import full, run_files, run_script

MPIEXEC = shutil.which('mpiexec')
pytestmark = [full, pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec('mpi4py') is None,
    reason='needs mpiexec and mpi4py (make mpi-setup installs Open MPI and mpi4py)')]
# Open MPI refuses root without --allow-run-as-root, and 2 processes on fewer cores
# without --oversubscribe; both are harmless elsewhere.
MPI_FLAGS = ['--allow-run-as-root', '--oversubscribe']
# Little noise and no dropout, so that the final loss depends little on the random streams.
STEADY = ['--dataset', 'digits', '--batchsize', '20', '--dropout-ratio', '0',
          '--corruption-ratio', '.1']
AE_ARGS = [*STEADY, '--epoch', '8', '--optimizer', 'Adam', '--activate', 'sigmoid']
DAE_ARGS = [*STEADY, '--n-hidden-layers', '32', '16', '--pretrain-epoch', '2',
            '--finetune-epoch', '4']


def launch(script, args, out, processes=None):
    """`python script args` alone, or as `mpiexec -n processes` with --communicator naive."""
    if processes:
        return run_script(script, *args, '--out', str(out), '--communicator', 'naive',
                          prefix=[MPIEXEC, *MPI_FLAGS, '-n', str(processes)], timeout=300)
    return run_script(script, *args, '--out', str(out), timeout=300)


def outputs(out):
    files = run_files(out / 'digits')
    record = json.loads((out / 'digits' / next(f for f in files if f.endswith('run.json')))
                        .read_text())
    return files, record


@pytest.mark.parametrize('script, args', [('autoencoder.py', AE_ARGS),
                                          ('deep_autoencoder.py', DAE_ARGS)])
def test_two_processes_train_like_one_and_write_one_set_of_outputs(tmp_path, script, args):
    alone = launch(script, args, tmp_path / 'alone')
    assert alone.returncode == 0, alone.stderr
    pair = launch(script, args, tmp_path / 'pair', processes=2)
    assert pair.returncode == 0, pair.stderr
    files_alone, record_alone = outputs(tmp_path / 'alone')
    files_pair, record_pair = outputs(tmp_path / 'pair')
    # another run: names of its own, one set of them (only rank 0 writes)
    mpi = ('_communicator=naive', '_processes=2')
    assert [f.replace(mpi[0], '').replace(mpi[1], '') for f in files_pair] == files_alone
    assert all(mpi[0] in f and mpi[1] in f for f in files_pair)
    assert not any('snapshot' in f for f in files_pair)
    assert pair.stdout.count('data: digits') == 1  # only rank 0 prints
    assert pair.stdout.count('epoch 1/') == alone.stdout.count('epoch 1/') >= 1
    assert '2 processes (naive communicator)' in pair.stdout
    assert record_pair['arguments']['communicator'] == 'naive'
    # Same global batch, same epochs: the same model trained; the noise, dropout and
    # shuffles differ (each rank draws its own), so the losses are close, not equal.
    curves = [*record_alone.get('pretrain_test_loss_values', []), record_alone['test_loss_values']]
    first, last = curves[0][0], curves[-1][-1]  # the first epoch's test loss, the last one's
    assert last < .85 * first  # it learned, so "close" below means something
    assert abs(record_pair['test_loss_values'][-1] - last) < min(.05 * last, (first - last) / 4)

def test_bad_input_in_an_mpi_job_ends_every_process_with_status_2(tmp_path):
    r = launch('autoencoder.py', [*AE_ARGS, '--batchsize', '25'], tmp_path, processes=2)
    assert r.returncode == 2
    assert 'batchsize 25 (the global minibatch) must be a multiple of the number of ' \
           'processes, 2' in r.stderr
    assert 'Traceback' not in r.stderr
    assert not os.path.exists(tmp_path / 'digits')


def test_unwritable_output_on_rank_0_alone_does_not_hang_the_others(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    r = launch('autoencoder.py', AE_ARGS, blocker, processes=2)  # rank 1 is already waiting
    assert r.returncode == 2 and 'not a writable directory' in r.stderr
    assert 'Traceback' not in r.stderr
