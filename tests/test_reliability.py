"""Interrupted runs lose nothing and resume exactly (bad input: test_validation.py)."""
import json
import os
import signal

import chainer
import numpy as np
import pytest
from conftest import run_script, start_script

import autoencoder as ae
import deep_autoencoder as da
import runner


@pytest.fixture
def stop_after(monkeypatch):
    """Call request_stop, as the SIGINT handler would, right after the n-th optimizer update."""
    def arm(n):
        update, count = chainer.optimizer.GradientMethod.update, [0]

        def counting(self, *args, **kwargs):
            update(self, *args, **kwargs)
            count[0] += 1
            if count[0] == n:
                runner.request_stop(signal.SIGINT)
        monkeypatch.setattr(chainer.optimizer.GradientMethod, 'update', counting)
    yield arm
    runner.request_stop(None)


def snapshot_and_reload(trainer, make, tmp_path):
    """Save the interrupted trainer; load it into a new one built with another seed."""
    path = str(tmp_path / 'snapshot.npz')
    runner.save_snapshot(trainer, path)
    runner.request_stop(None)
    resumed = make(seed=5)
    chainer.serializers.load_npz(path, resumed)
    return resumed


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
    with pytest.raises(runner.Interrupted, match='SIGINT'):
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
    with pytest.raises(runner.Interrupted):
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


@pytest.mark.parametrize('script, args, when, signum', [
    ('autoencoder.py', ['--epoch', '3', '--batchsize', '1'], 'epoch 1/3', signal.SIGINT),
    ('deep_autoencoder.py', ['--pretrain-epoch', '2', '--finetune-epoch', '2', '--batchsize', '2',
                             '--n-hidden-layers', '36', '16'], 'pretrain layer 2, epoch 1/2',
     signal.SIGTERM),
])
def test_signal_saves_a_snapshot_and_resume_finishes_the_same(tmp_path, script, args, when, signum):
    code, out, err = run(script, *args, '--out', str(tmp_path / 'reference'))
    assert code == 0, err

    p = start(script, *args, '--out', str(tmp_path / 'run'))
    wait_for(p, when)
    p.send_signal(signum)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 128 + signum and 'Traceback' not in err
    [snapshot] = [f for f in os.listdir(tmp_path / 'run' / 'digits')]  # nothing else yet
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


def test_a_crash_loses_at_most_one_epoch(tmp_path):
    p = start('autoencoder.py', '--epoch', '20', '--batchsize', '1', '--out', str(tmp_path))
    wait_for(p, 'epoch 3/20')  # the snapshot of epoch 2 was written before epoch 3 started
    p.kill()
    p.communicate(timeout=60)
    [snapshot] = [f for f in os.listdir(tmp_path / 'digits') if f.endswith('snapshot.npz')]
    with np.load(tmp_path / 'digits' / snapshot) as f:
        assert json.loads(str(f['state']))['epoch'] >= 2


def test_an_interrupted_hinton_run_continues_where_it_stopped(tmp_path, stop_after):
    import reproduce
    import utils
    data, labels = utils.load_mnist(dataset='digits', seed=1)
    settings = dict(reproduce.HINTON, sizes=(16, 8, 4), pretrain=1, finetune=3)
    run = lambda out: reproduce.hinton_run(settings, True, data, labels, str(out), '@numpy')  # noqa: E731
    reference = run(tmp_path / 'a')
    stop_after(60)  # 14 minibatches an epoch: pretraining takes 42, this is fine-tuning epoch 2
    with pytest.raises(runner.Interrupted):
        run(tmp_path / 'b')
    assert [f.endswith('snapshot.npz') for f in os.listdir(tmp_path / 'b' / 'snapshots')] == [True]
    runner.request_stop(None)
    resumed = run(tmp_path / 'b')
    assert resumed['test_curve'] == reference['test_curve'] and len(resumed['test_curve']) == 3
    np.testing.assert_array_equal(resumed['test_codes'], reference['test_codes'])
