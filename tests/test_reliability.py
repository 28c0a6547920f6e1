"""Interrupted runs lose nothing and resume exactly (bad input: test_validation.py)."""
import json
import os
import re
import signal

import chainer
import numpy as np
import pytest
from conftest import command, full, run_files, run_script, snapshot_and_reload, start_script

import autoencoder as ae
import deep_autoencoder as da
from lab import machine, signals, snapshots


def assert_same_run(a, b):
    assert a.loss_values == b.loss_values and a.test_loss_values == b.test_loss_values
    for (name, p), (_, q) in zip(sorted(a.model.namedparams()), sorted(b.model.namedparams())):
        np.testing.assert_array_equal(p.array, q.array, err_msg=name)


def make_ae(digits, seed=0):
    model = ae.AutoEncoder(64, 32, .1, 'sigmoid', seed=seed)
    return ae.Train_AutoEncoder(digits[0], model, .3, rng=seed, optimizer='Adam')


@pytest.mark.parametrize('updates', [40, 54])  # in the middle of epoch 2; at its very end
def test_autoencoder_resumes_exactly(digits, tmp_path, stop_after, updates):
    reference = make_ae(digits)
    reference.start(3, 50, log=None)  # 27 minibatches an epoch
    trainer = make_ae(digits)
    stop_after(updates)
    with pytest.raises(signals.Interrupted, match='SIGINT'):
        trainer.start(3, 50, log=None)
    assert trainer.epoch == (1 if updates == 40 else 2)
    resumed = snapshot_and_reload(trainer, lambda seed: make_ae(digits, seed), tmp_path)
    resumed.train_to(3, 50, log=None)
    assert_same_run(reference, resumed)


def make_dae(digits, seed=0, hinton=False):
    """The original's settings, or (hinton) those of reproduce.py's Hinton experiment: linear
    code, cross-entropy, a decaying learning rate, its own pretraining noise."""
    extra = dict(code_activate='identity', output_activate='sigmoid') if hinton else {}
    model = da.DAE(64, (32, 16), 'sigmoid', .1, seed=seed, **extra)
    extra = dict(loss='bce', lr_decay=.7, pretrain_corruption_ratio=.2) if hinton else {}
    return da.Train_DAE(digits[0], model, .3, ae.get_optimizer('Adam', 3e-3), rng=seed, **extra)


def pretrain_and_finetune(trainer):  # what deep_autoencoder.run does, resumed or not
    if not trainer.pretrained:
        trainer.pre_training(2, 50, log=None)
    trainer.fine_tuning(2, 50, log=None)


@pytest.mark.parametrize('updates, hinton', [(10, False), (70, False), (130, False), (130, True)])
def test_deep_autoencoder_resumes_exactly(digits, tmp_path, stop_after, updates, hinton):
    # 10: pretraining layer 1, 70: layer 2, 130: fine-tuning, epoch 2 (learning rate decayed)
    reference = make_dae(digits, hinton=hinton)
    pretrain_and_finetune(reference)
    trainer = make_dae(digits, hinton=hinton)
    stop_after(updates)
    with pytest.raises(signals.Interrupted):
        pretrain_and_finetune(trainer)
    resumed = snapshot_and_reload(trainer, lambda seed: make_dae(digits, seed, hinton), tmp_path)
    assert len(resumed.pretrainers) == (1 if updates == 10 else 2)
    pretrain_and_finetune(resumed)
    assert_same_run(reference, resumed)
    for a, b in zip(reference.pretrainers, resumed.pretrainers):
        assert_same_run(a, b)


# ---------------------------------------------------------------- the command line, for real

def start(script, *args):
    return start_script(script, '--dataset', 'digits', *args)


def run(script, *args):
    r = run_script(script, '--dataset', 'digits', *args)
    return r.returncode, r.stdout, r.stderr


def wait_for(process, text):
    for line in process.stdout:
        if text in line:
            return
    raise AssertionError(f'{text!r} never printed: {process.communicate()}')


def outputs(folder):
    """The run's JSON losses and its model's arrays."""
    [record] = [f for f in os.listdir(folder) if f.endswith('run.json')]
    [model] = [f for f in os.listdir(folder) if f.endswith('model.npz')]
    with open(os.path.join(folder, record)) as f:
        losses = {k: v for k, v in json.load(f).items() if 'loss_values' in k}
    with np.load(os.path.join(folder, model)) as f:
        return losses, {k: f[k] for k in f.files}


@full  # a run of its own, stopped and resumed at batch size 1: not quick
@pytest.mark.parametrize('script, args, when, signum', [
    ('autoencoder.py', ['--epoch', '3', '--batchsize', '1'], 'epoch 1/3', signal.SIGINT),
    ('conv_autoencoder.py', ['--epoch', '3', '--batchsize', '10', '--channels', '4', '8'],
     'epoch 1/3', signal.SIGINT),
    pytest.param('deep_autoencoder.py', ['--pretrain-epoch', '2', '--finetune-epoch', '2',
                                         '--batchsize', '2', '--n-hidden-layers', '36', '16'],
                 'pretrain layer 2, epoch 1/2', signal.SIGTERM, marks=full),
])
def test_signal_saves_a_snapshot_and_resume_finishes_the_same(tmp_path, script, args, when, signum):
    code, out, err = run(script, *args, '--out', str(tmp_path / 'reference'))
    assert code == 0, err

    p = start(script, *args, '--out', str(tmp_path / 'run'))
    wait_for(p, when)
    p.send_signal(signum)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signum and 'Traceback' not in err
    [snapshot] = run_files(tmp_path / 'run' / 'digits')  # nothing else yet (but the log)
    assert snapshot.endswith('snapshot.npz') and f'--resume {tmp_path}' in err
    assert signal.Signals(signum).name in err

    code, out, err = run(script, '--resume', str(tmp_path / 'run' / 'digits' / snapshot))
    assert code == 0, err
    assert not os.path.exists(tmp_path / 'run' / 'digits' / snapshot)  # done with it
    (losses, weights), (ref_losses, ref_weights) = (
        outputs(tmp_path / name / 'digits') for name in ('run', 'reference'))
    assert losses == ref_losses
    assert weights.keys() == ref_weights.keys()
    for key in weights:
        np.testing.assert_array_equal(weights[key], ref_weights[key], err_msg=key)


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_a_crash_loses_at_most_one_epoch(tmp_path):
    p = start('autoencoder.py', '--epoch', '20', '--batchsize', '1', '--out', str(tmp_path))
    wait_for(p, 'epoch 3/20')  # the snapshot of epoch 2 was written before epoch 3 started
    p.kill()
    p.communicate(timeout=60)
    [snapshot] = [f for f in os.listdir(tmp_path / 'digits') if f.endswith('snapshot.npz')]
    with np.load(tmp_path / 'digits' / snapshot) as f:
        assert json.loads(str(f['state']))['epoch'] >= 2


def interrupt(out, epochs):
    """The snapshot of `autoencoder.py --epoch EPOCHS --batchsize 1` stopped in epoch 1."""
    p = start('autoencoder.py', '--epoch', str(epochs), '--batchsize', '1', '--out', str(out))
    wait_for(p, f'epoch 1/{epochs}')
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    [snapshot] = run_files(out / 'digits')
    return str(out / 'digits' / snapshot)


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_a_finished_run_leaves_another_runs_snapshot_alone(tmp_path):
    snapshot = os.path.basename(interrupt(tmp_path, 3))
    code, out, err = run('autoencoder.py', '--epoch', '3', '--seed', '2', '--out', str(tmp_path))
    assert code == 0, err
    assert snapshot in os.listdir(tmp_path / 'digits')  # still there, and it still resumes
    code, out, err = run('autoencoder.py', '--resume', str(tmp_path / 'digits' / snapshot))
    assert code == 0 and 'resumed from' in out, err


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_the_same_command_again_refuses_to_write_over_its_interrupted_snapshot(tmp_path):
    snapshot = interrupt(tmp_path, 3)
    before = os.path.getmtime(snapshot), os.path.getsize(snapshot)
    code, out, err = run('autoencoder.py', '--epoch', '3', '--batchsize', '1',
                         '--out', str(tmp_path))
    assert code == 2 and 'Traceback' not in err, err
    assert re.search(r'this run was interrupted before \(epoch \d done\): continue it with: '
                     r'python autoencoder\.py --resume ' + re.escape(snapshot), err)
    assert 'epoch 1/3' not in out  # refused before training
    assert (os.path.getmtime(snapshot), os.path.getsize(snapshot)) == before
    code, out, err = run('autoencoder.py', '--resume', snapshot)
    assert code == 0 and 'resumed from' in out, err


# ---------------------------------------------------------------- one process per run

LONG = ('--epoch', '5000', '--batchsize', '1')  # trains until it is stopped


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_the_same_command_while_its_run_trains_is_refused_naming_the_process(tmp_path):
    p = start('autoencoder.py', *LONG, '--out', str(tmp_path))
    try:
        wait_for(p, 'epoch 2/5000')  # epoch 1's snapshot is there: it looks interrupted, is not
        for again in (['autoencoder.py', *LONG, '--out', str(tmp_path)],
                      ['autoencoder.py', '--resume', snapshot_in(tmp_path / 'digits')]):
            code, out, err = run(*again)
            assert code == 75, err
            assert err.count('\n') == 1 and 'Traceback' not in err
            assert f'this run is being trained by process {p.pid} on ' in err and '.lock' in err
            assert 'epoch' not in out  # refused before training
    finally:
        p.kill()
        p.communicate()


def snapshot_in(folder):
    [snapshot] = [f for f in os.listdir(folder) if f.endswith('snapshot.npz')]
    return str(folder / snapshot)


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_a_run_killed_outright_never_blocks_its_own_resume(tmp_path):
    p = start('autoencoder.py', '--epoch', '4', '--batchsize', '1', '--out', str(tmp_path))
    wait_for(p, 'epoch 2/4')
    p.kill()  # SIGKILL: no handler runs, the lock file stays; the OS drops the lock
    p.communicate()
    assert os.listdir(tmp_path / 'digits' / '.locks')
    code, out, err = run('autoencoder.py', '--resume', snapshot_in(tmp_path / 'digits'))
    assert code == 0 and 'resumed from' in out, err


def test_a_lock_says_who_holds_it_and_is_let_go_when_its_run_is_done(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    from lab import lock
    held = lock.acquire(str(tmp_path), 'run', dict(script='x.py', arguments={'a': 1}))
    path = lock.path(str(tmp_path), 'run')
    assert lock.held(path) and lock.read(path)['pid'] == os.getpid()
    assert lock.name_of(str(tmp_path), os.getpid()) == 'run'
    other = subprocess.run([sys.executable, '-c', 'from lab import lock; '
                            f'lock.acquire({str(tmp_path)!r}, "run", {{}})'],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert other.returncode == 1 and 'Held' in other.stderr
    assert f'this run is being trained by process {os.getpid()} on ' in other.stderr
    lock.release(held)
    assert not lock.held(path) and lock.holders(str(tmp_path)) == {}
    assert lock.read(path)['arguments'] == {'a': 1}  # the file stays, with its last holder


# ---------------------------------------------------------------- Ctrl-C at any moment

@pytest.fixture
def hanging_proxy():
    """A proxy that accepts connections and never answers: a download that hangs."""
    import socket
    import threading
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen()
    accepted = threading.Event()
    held = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            accepted.set()
    threading.Thread(target=serve, daemon=True).start()
    yield f'http://127.0.0.1:{server.getsockname()[1]}', accepted
    server.close()
    for connection in held:
        connection.close()


def test_ctrl_c_during_a_hanging_download_ends_the_run_at_once(tmp_path, hanging_proxy):
    import subprocess
    import time
    from conftest import ROOT, script_command
    proxy, accepted = hanging_proxy
    env = {k: v for k, v in os.environ.items() if k != 'MNIST_DIR'}
    env.update(https_proxy=proxy, http_proxy=proxy, HTTPS_PROXY=proxy, HTTP_PROXY=proxy,
               SCIKIT_LEARN_DATA=str(tmp_path / 'cache'))
    p = subprocess.Popen(script_command('autoencoder.py', '--dataset', 'mnist', '--out',
                                        str(tmp_path / 'out')), cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert accepted.wait(60), 'the download never started'
    time.sleep(.5)  # inside the download: the proxy holds the connection and never answers
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)  # without the fix it waits on the download for ever
    assert p.returncode == 130 and 'Traceback' not in err and 'stopped by SIGINT' in err


def test_ctrl_c_while_outputs_are_written_leaves_no_half_file_and_a_snapshot(tmp_path, monkeypatch):
    import utils
    save_images = utils.save_images

    def interrupted_save(*args, **kwargs):  # Ctrl-C in the middle of writing the second picture
        if interrupted_save.calls == 1:
            os.kill(os.getpid(), signal.SIGINT)
        interrupted_save.calls += 1
        return save_images(*args, **kwargs)
    interrupted_save.calls = 0
    monkeypatch.setattr(ae, 'save_images', interrupted_save)  # what main() passes to Run
    argv = ['--dataset', 'digits', '--epoch', '1', '--out', str(tmp_path)]
    assert command(ae, argv) == 130
    files = os.listdir(tmp_path / 'digits')
    assert not [f for f in files if '.tmp' in f]
    [snapshot] = [f for f in files if f.endswith('snapshot.npz')]  # training is not lost
    monkeypatch.setattr(ae, 'save_images', save_images)
    assert command(ae, ['--resume', str(tmp_path / 'digits' / snapshot)]) == 0
    assert len(run_files(tmp_path / 'digits')) == 6  # the outputs, the snapshot gone


def test_a_second_ctrl_c_while_the_snapshot_is_written_does_not_spoil_it(tmp_path, monkeypatch):
    save_npz = chainer.serializers.save_npz

    def save_twice_interrupted(path, obj, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # pressed again while the snapshot is written
        return save_npz(path, obj, *args, **kwargs)
    update, count = chainer.optimizer.GradientMethod.update, [0]

    def counting(self, *args, **kwargs):  # the first Ctrl-C, in the middle of epoch 1
        update(self, *args, **kwargs)
        count[0] += 1
        if count[0] == 5:
            monkeypatch.setattr(chainer.serializers, 'save_npz', save_twice_interrupted)
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(chainer.optimizer.GradientMethod, 'update', counting)
    argv = ['--dataset', 'digits', '--epoch', '2', '--out', str(tmp_path)]
    assert command(ae, argv) == 130
    [snapshot] = run_files(tmp_path / 'digits')
    with np.load(tmp_path / 'digits' / snapshot) as f:
        assert json.loads(str(f['state']))['position'] == 5 * 100


# ---------------------------------------------------------------- --resume with other options

@pytest.fixture
def interrupted(tmp_path):
    return interrupt(tmp_path, 2)


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_resume_with_a_larger_epoch_goes_on_as_a_longer_run_would(tmp_path, interrupted):
    code, out, err = run('autoencoder.py', '--epoch', '3', '--batchsize', '1', '--out',
                         str(tmp_path / 'reference'))
    assert code == 0, err
    code, out, err = run('autoencoder.py', '--resume', interrupted, '--epoch', '3')
    assert code == 0, err
    assert "resume: --epoch 3 instead of the snapshot's 2: training goes on to 3 epochs" in out
    folder = os.path.dirname(interrupted)
    assert any('epoch=3' in f and f.endswith('run.json') for f in os.listdir(folder))
    (losses, weights), (ref_losses, ref_weights) = (
        outputs(f) for f in (folder, tmp_path / 'reference' / 'digits'))
    assert losses == ref_losses and len(losses['loss_values']) == 3
    for key in weights:
        np.testing.assert_array_equal(weights[key], ref_weights[key], err_msg=key)


@full  # a run of its own, stopped and resumed at batch size 1: not quick
@pytest.mark.parametrize('args, message', [
    (['--lr-decay', '.5'], "resume: --lr-decay 0.5 differs from the snapshot's 1.0"),
    (['--epoch', '1'], "resume: --epoch 1 differs from the snapshot's 2"),
    (['--activate', 'tanh'], "resume: --activate 'tanh' differs from the snapshot's 'relu'"),
])
def test_resume_refuses_other_settings_naming_the_option(interrupted, args, message):
    code, out, err = run('autoencoder.py', '--resume', interrupted, *args)
    assert code == 2 and message in err and 'Traceback' not in err
    assert 'only --epoch may grow' in err


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_resume_with_the_snapshots_own_settings_says_nothing_of_them(interrupted):
    code, out, err = run('autoencoder.py', '--resume', interrupted, '--epoch', '2',
                         '--batchsize', '1')
    assert code == 0 and 'resume: --' not in out, err


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_a_run_records_every_machine_and_stack_its_training_ran_on(interrupted, monkeypatch):
    here = machine.stack()
    with np.load(interrupted) as f:
        assert json.loads(str(f['config']))['trained_on'] == [here]
    elsewhere = dict(here, cpu='Another CPU', numpy='0.0')  # the run resumed on another machine
    monkeypatch.setattr(machine, 'stack', lambda: elsewhere)
    assert command(ae, ['--resume', interrupted]) == 0
    [record] = [f for f in os.listdir(os.path.dirname(interrupted)) if f.endswith('run.json')]
    with open(os.path.join(os.path.dirname(interrupted), record)) as f:
        record = json.load(f)
    assert record['trained_on'] == [here, elsewhere] and record['versions'] == elsewhere
    assert here['cpu'] and here['numpy'] == np.__version__


@full  # a run of its own, stopped and resumed at batch size 1: not quick
def test_a_snapshot_written_before_the_move_to_lab_resumes_to_an_uninterrupted_runs_end(tmp_path):
    """tests/data/snapshot_before_lab.npz was written by the code before lab/ existed (commit
    6227914): `autoencoder.py --dataset digits --n-hidden 8 --epoch 3 --batchsize 10 --out
    results`, stopped by SIGINT in epoch 2. Resumed now, it ends where a run made now ends."""
    import shutil
    import subprocess

    from conftest import script_command
    name = 'alg=AdaDelta_epoch=3_corp=30drop=10activate=relu_nhidden=8_batchsize=10'
    (tmp_path / 'old' / 'results' / 'digits').mkdir(parents=True)
    snapshot = tmp_path / 'old' / 'results' / 'digits' / (name + 'snapshot.npz')
    shutil.copy(os.path.join(os.path.dirname(__file__), 'data', 'snapshot_before_lab.npz'),
                snapshot)
    for where, args in (('old', ['--resume', os.path.join('results', 'digits', snapshot.name)]),
                        ('new', ['--dataset', 'digits', '--n-hidden', '8', '--epoch', '3',
                                 '--batchsize', '10', '--out', 'results'])):
        (tmp_path / where).mkdir(exist_ok=True)
        r = subprocess.run(script_command('autoencoder.py', *args), cwd=tmp_path / where,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    resumed, fresh = (outputs(tmp_path / where / 'results' / 'digits') for where in ('old', 'new'))
    # Bit for bit where the snapshot's first epochs were computed as they are here; it was written
    # on an Intel Xeon (OpenBLAS's SkylakeX kernel), and elsewhere (an AMD EPYC: Haswell) the
    # last epoch's rounding differs (1e-8 of a loss), as whole runs on two machines do.
    assert resumed[0].keys() == fresh[0].keys() and resumed[1].keys() == fresh[1].keys()
    for key in fresh[0]:  # every loss of every epoch
        np.testing.assert_allclose(resumed[0][key], fresh[0][key], rtol=1e-6)
    for key in fresh[1]:
        scale = np.abs(fresh[1][key]).max()
        np.testing.assert_allclose(resumed[1][key], fresh[1][key], rtol=0, atol=1e-5 * scale)
