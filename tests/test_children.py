"""Runs as child processes (lab/children.py): read back, resumed, waited for, found by their
arguments; what a row's command gives; the machines a run was computed on."""
import os

from conftest import full, needs_mnist, run_files

from lab import machine
from lab.experiments import grid
from lab import children


@full  # runs of their own in child processes: not quick
def test_a_finished_run_is_read_back_and_an_interrupted_one_resumed(tmp_path, reworded):
    """script_run reads a run that finished with the same arguments, and continues one that
    a signal stopped from its snapshot, to the same end as a run never stopped."""
    import signal
    import subprocess
    import sys
    from conftest import ROOT
    options = dict(optimizer='Adam', activate='sigmoid', epoch=2, batchsize=1)
    reference = children.script_run(grid.AE, options, 'digits', str(tmp_path / 'a'), False)
    again = children.script_run(grid.AE, options, 'digits', str(tmp_path / 'a'), False)
    assert not reference['cached'] and again['cached'] and again['record'] == reference['record']

    args = children.command_line(grid.AE.name, options, 'digits')
    p = subprocess.Popen([sys.executable, '-u', args[0], *args[1:], '--out', str(tmp_path / 'b')],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith('Durchgang 1/2'):  # 'epoch 1/2', reworded
            p.send_signal(signal.SIGINT)
            break
    p.communicate(timeout=60)
    assert p.returncode == 130
    assert [f.endswith('snapshot.npz') for f in run_files(tmp_path / 'b' / 'digits')] == [True]
    resumed = children.script_run(grid.AE, options, 'digits', str(tmp_path / 'b'), False)
    assert resumed['record']['test_loss_values'] == reference['record']['test_loss_values']
    assert not any(f.endswith('snapshot.npz') for f in os.listdir(tmp_path / 'b' / 'digits'))


@full  # runs of their own in child processes: not quick
def test_a_run_another_process_trains_is_waited_for_and_read_back_never_trained_twice(
        tmp_path, capsys):
    import subprocess
    import sys

    from conftest import ROOT
    options = dict(optimizer='Adam', epoch=3, batchsize=1)
    args = children.command_line(grid.AE.name, options, 'digits')
    p = subprocess.Popen([sys.executable, '-u', args[0], *args[1:], '--out', str(tmp_path)],
                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in p.stdout:  # its lock is held from before its first epoch
        if line.startswith('epoch 1/3'):
            break
    row = children.script_run(grid.AE, options, 'digits', str(tmp_path), False, tag='row')
    out = capsys.readouterr().out
    assert f'row: waiting: {row["name"]} is being trained by process {p.pid} on ' in out
    assert row['cached'] and 'read back' in out and 'row: epoch' not in out  # not trained again
    assert p.wait(60) == 0 and len(row['record']['loss_values']) == 3


def test_ctrl_c_stops_an_experiment_whose_tasks_wait_for_another_processs_runs(tmp_path):
    """Tasks that wait while another process holds their runs give up when the experiment is
    stopped: reproduce.py's Ctrl-C is obeyed at once, not after the other process's runs."""
    import signal
    import subprocess
    import sys

    from conftest import ROOT
    from lab import lock
    folder, options = tmp_path / 'digits', dict(epoch=1)
    held = lock.acquire(str(folder), 'held', dict(script=grid.AE.name, arguments=dict(
        grid.AE.defaults, **options, dataset='digits', out=str(tmp_path))))
    code = (f'import signal, sys; from lab import children, signals; import autoencoder\n'
            f'signal.signal(signal.SIGINT, signals.on_signal)\n'
            f'task = dict(script=children.Script(autoencoder), options={options!r}, '
            f'dataset="digits", runs={str(tmp_path)!r}, retrain=False, tag="row")\n'
            f'try:\n    children.run_tasks([("row", children.script_run, task)] * 2, 2)\n'
            f'except signals.Interrupted:\n    sys.exit(130)\n')
    p = subprocess.Popen([sys.executable, '-c', code], cwd=ROOT, stdout=subprocess.PIPE,
                         text=True)
    try:
        for line in p.stdout:
            if line.startswith('row: waiting: held is being trained'):
                p.send_signal(signal.SIGINT)
                break
        assert p.wait(30) == 130
    finally:
        p.kill()
        lock.release(held)


@needs_mnist
def test_an_mnist_rows_command_gives_its_numbers_exactly(tmp_path):
    """One cheap MNIST row (one epoch of the original's single autoencoder, Adam): the run
    reproduce.py makes and its printed command typed as it stands agree to the last bit."""
    import json
    import shlex
    import subprocess
    import sys
    from conftest import ROOT
    options = dict(optimizer='Adam', activate='sigmoid', epoch=1)
    row = children.script_run(grid.AE, options, 'mnist', str(tmp_path / 'a'), False)
    env_words, rest = row['command'].split(' python ')
    env = dict(os.environ, **dict(w.split('=') for w in env_words.split()))
    r = subprocess.run([sys.executable, *shlex.split(rest), '--out', str(tmp_path / 'b')],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    mine = json.loads((tmp_path / 'b' / 'mnist' / (row['name'] + 'run.json')).read_text())
    assert mine['test_loss_values'] == row['record']['test_loss_values']
    assert mine['loss_values'] == row['record']['loss_values']
    assert mine['dataset']['n_train'] == 52500


def test_a_run_recorded_before_an_option_existed_is_found_with_its_default(tmp_path):
    import json
    options = dict(optimizer='Adam', finetune_epoch=3)
    arguments = dict(grid.DEEP.defaults, **options, dataset='digits', out=str(tmp_path))
    older = {k: v for k, v in arguments.items() if k not in ('init', 'momentum_max')}
    (tmp_path / 'digits').mkdir()
    (tmp_path / 'digits' / 'oldrun.json').write_text(json.dumps(dict(arguments=older)))
    found = lambda a: children.find_run(str(tmp_path / 'digits'), a, 'run.json',  # noqa: E731
                                         grid.DEEP)
    assert found(arguments) == 'old'
    assert found(dict(arguments, init='sparse')) is None  # not what it ran with
    assert found(dict(arguments, finetune_epoch=4)) is None
    # a run made with the README's command (--out results) is found under the full path
    assert found(dict(arguments, out='results')) == 'old'


def test_a_run_says_which_machines_it_was_computed_on_and_where_that_is_not_known():
    blas = dict(library='openblas', core='Zen')
    new = dict(cpu='CPU A', numpy='2.4.6', blas=dict(blas, threads=2))
    old = dict(numpy='1.26.4', blas=blas)
    assert machine.computed_on(dict(trained_on=[new], versions=new)) == \
        'CPU A, NumPy 2.4.6, openblas (Zen kernel, 2 threads)'
    assert machine.computed_on(dict(trained_on=[None, new], versions=new)) == \
        'not recorded, then CPU A, NumPy 2.4.6, openblas (Zen kernel, 2 threads)'  # resumed
    assert machine.computed_on(dict(versions=old)) == \
        'CPU not recorded, NumPy 1.26.4, openblas (Zen kernel)'  # a run.json from before
