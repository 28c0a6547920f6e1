import json
import os
import subprocess
import sys

import chainer
import chainer.functions as F
import numpy as np
import pytest
from conftest import ROOT

import autoencoder as ae
from utils import ConfigError


def train(digits, epoch=5, seed=0, **kw):
    data, _ = digits
    model = ae.AutoEncoder(64, 32, .1, kw.pop('activate', 'sigmoid'), seed=seed)
    trainer = ae.Train_AutoEncoder(data, model, .3, rng=seed, optimizer=kw.pop('optimizer', 'Adam'))
    trainer.start(epoch, 20, log=None)
    return trainer


def test_autoencoder_learns(digits):
    trainer = train(digits, epoch=10)
    first, last = trainer.test_loss_values[0], trainer.test_loss_values[-1]
    assert len(trainer.loss_values) == len(trainer.test_loss_values) == 10
    assert last < 0.6 * first
    x_train, x_test = digits[0]
    mean_image_mse = np.square(x_test - x_train.mean(axis=0)).mean()
    assert last < mean_image_mse  # better than predicting the average digit


def test_evaluate_is_the_eval_mode_mse(digits):
    trainer = train(digits, epoch=1)
    x = trainer.test
    with chainer.using_config('train', False):
        expected = F.mean_squared_error(trainer.model(x), x).array
    assert trainer.test_loss_values[-1] == pytest.approx(float(expected), rel=1e-5)


def test_same_seed_same_losses_and_weights(digits):
    a, b = train(digits, epoch=2), train(digits, epoch=2)
    assert a.loss_values == b.loss_values and a.test_loss_values == b.test_loss_values
    np.testing.assert_array_equal(a.model.encoder.W.array, b.model.encoder.W.array)
    assert train(digits, epoch=2, seed=1).loss_values != a.loss_values


def test_masking_noise_zeroes_the_requested_fraction_and_nothing_else():
    model = ae.AutoEncoder(1000, 10)
    x = np.random.default_rng(0).uniform(.1, 1, (200, 1000)).astype(np.float32)
    trainer = ae.Train_AutoEncoder([x, x], model, corruption_ratio=.3, rng=0)
    noisy = trainer.corrupt(x)
    zero = noisy == 0
    assert zero.mean() == pytest.approx(.3, abs=.005)
    np.testing.assert_array_equal(noisy[~zero], x[~zero])
    assert noisy.dtype == np.float32
    assert not np.array_equal(trainer.corrupt(x) == 0, zero)  # fresh noise each call


def test_eval_mode_is_deterministic_and_training_mode_drops_out():
    model = ae.AutoEncoder(64, 40, dropout_ratio=.5)
    x = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    with chainer.using_config('train', False):
        h1, h2 = model(x, hidden=True).array, model(x, hidden=True).array
    np.testing.assert_array_equal(h1, h2)
    with chainer.using_config('train', True):
        h = model(x, hidden=True).array
    dropped = h == 0
    assert .3 < dropped.mean() < .7
    np.testing.assert_allclose(h[~dropped], 2 * h1[~dropped], rtol=1e-6)  # kept units scaled


def test_reconstruction_is_not_dropped_out():
    model = ae.AutoEncoder(64, 40, dropout_ratio=.5, activate='relu')
    x = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    h = model.encode(x)  # training mode by default
    np.testing.assert_array_equal(model.decode(h).array, F.relu(model.decoder(h)).array)


def test_copy_encoder_copies_values_not_references():
    model = ae.AutoEncoder(64, 16)
    for link, copy in ((model.encoder, model.copy_encoder()), (model.decoder, model.copy_decoder())):
        assert copy is not link and copy.W.array is not link.W.array
        np.testing.assert_array_equal(copy.W.array, link.W.array)
        np.testing.assert_array_equal(copy.b.array, link.b.array)
        copy.W.array[...] += 1
        assert not np.array_equal(copy.W.array, link.W.array)


def test_device_numpy_holds_model_and_data_and_changes_nothing(digits):
    alone = train(digits, epoch=2)
    data, _ = digits
    model = ae.AutoEncoder(64, 32, .1, 'sigmoid', seed=0)
    trainer = ae.Train_AutoEncoder(data, model, .3, rng=0, optimizer='Adam', device='@numpy')
    trainer.start(2, 20, log=None)
    assert str(trainer.device) == str(model.device) == '@numpy'
    assert type(trainer.train) is np.ndarray and type(model.encoder.W.array) is np.ndarray
    assert trainer.test_loss_values == alone.test_loss_values
    np.testing.assert_array_equal(model.encoder.W.array, alone.model.encoder.W.array)


@pytest.mark.skipif(chainer.backends.cuda.available, reason='CuPy is installed here')
def test_a_gpu_without_cupy_is_refused_with_how_to_get_it():
    with pytest.raises(ConfigError, match=r"'@cupy:0' cannot be used: .*pip install cupy-cuda12x"):
        ae.get_device('@cupy:0')


def test_a_communicator_without_mpi4py_is_refused_with_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'chainermn', None)  # `import chainermn` raises ImportError
    with pytest.raises(ConfigError, match=r"communicator 'naive' needs mpi4py .*make mpi-setup"):
        ae.get_communicator('naive')


def test_single_process_runs_never_import_mpi(tmp_path):
    code = ('import sys, autoencoder\n'
            'autoencoder.run(100, .1, "relu", False, "AdaDelta", .3, 1, 100, 1, "digits", '
            f'{str(tmp_path)!r})\n'
            'assert "mpi4py" not in sys.modules and "chainermn" not in sys.modules\n')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'epoch 1/1' in r.stdout


def test_names_are_the_originals():
    model = ae.AutoEncoder(784, 100, .1, F.relu)
    assert model.to_string() == 'drop=10activate=relu_nhidden=100'
    x = np.zeros((2, 784), np.float32)
    trainer = ae.Train_AutoEncoder([x, x], model, .3, optimizer=chainer.optimizers.AdaDelta)
    trainer.epoch = 20
    assert trainer.condition_to_string() == \
        'alg=AdaDelta_epoch=20_corp=30drop=10activate=relu_nhidden=100'


@pytest.mark.parametrize('optimizer', ['AdaDelta', chainer.optimizers.AdaDelta,
                                       chainer.optimizers.AdaDelta(rho=.9)])
def test_optimizer_as_name_class_or_instance(optimizer):
    assert type(ae.get_optimizer(optimizer)).__name__ == 'AdaDelta'


@pytest.mark.parametrize('make, message', [
    (lambda: ae.AutoEncoder(n_hidden=0), 'n_hidden must be an integer >= 1, got 0'),
    (lambda: ae.AutoEncoder(dropout_ratio=1.0), r'dropout_ratio must be a number in \[0, 1\), got 1.0'),
    (lambda: ae.AutoEncoder(activate='softplus'), "activate must be one of .*relu.*; got 'softplus'"),
    (lambda: ae.get_optimizer('Adamm'), "optimizer must be one of .*AdaDelta.*; got 'Adamm'"),
    (lambda: ae.get_optimizer(dict), 'optimizer must be a chainer.optimizers class'),
    (lambda: ae.Train_AutoEncoder([np.zeros((3, 5)), np.zeros((3, 5))], ae.AutoEncoder()),
     'train data has 5 features per sample but the model has n_inputs=784'),
    (lambda: ae.Train_AutoEncoder([np.full((3, 784), np.nan), np.zeros((3, 784))], ae.AutoEncoder()),
     'train data contains NaN'),
    (lambda: ae.Train_AutoEncoder([np.zeros((3, 784))] * 2, ae.AutoEncoder(), corruption_ratio=-.1),
     'corruption_ratio must be a number in'),
    (lambda: ae.Train_AutoEncoder([np.zeros((3, 784))] * 2, ae.AutoEncoder(), device='numpy'),
     "device must be a Chainer device such as @numpy or @cupy:0; 'numpy' cannot be used"),
    (lambda: ae.get_communicator('mpich'), "communicator must be one of .*naive.*; got 'mpich'"),
])
def test_bad_input_is_refused_with_its_name(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def cli(*args, env=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'autoencoder.py'), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=dict(os.environ, **(env or {})))


def test_command_line_run_writes_every_output(tmp_path):
    r = cli('--epoch', '1', '--dataset', 'digits', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert 'epoch 1/1' in r.stdout and 'data: digits' in r.stdout
    name = 'alg=AdaDelta_epoch=1_corp=30drop=10activate=relu_nhidden=100'
    suffixes = ['dec.png', 'enc.png', 'loss.png', 'model.npz', 'reconstruction.png', 'run.json']
    assert sorted(os.listdir(tmp_path / 'digits')) == [name + s for s in suffixes]
    run = json.loads((tmp_path / 'digits' / (name + 'run.json')).read_text())
    assert run['dataset']['name'] == 'digits'
    assert run['arguments']['seed'] == 1 and run['arguments']['epoch'] == 1
    assert len(run['loss_values']) == len(run['test_loss_values']) == 1
    with np.load(tmp_path / 'digits' / (name + 'model.npz')) as f:
        assert f['encoder/W'].shape == (100, 64)


@pytest.mark.parametrize('args, env, message', [
    (['--dropout-ratio', '1.5'], None, 'dropout_ratio must be a number in [0, 1), got 1.5'),
    (['--optimizer', 'Adamm'], None, "optimizer must be one of"),
    (['--epoch', '0'], None, 'epoch must be an integer >= 1, got 0'),
    (['--dataset', 'mnist'], {'MNIST_DIR': '/nonexistent'}, "MNIST_DIR '/nonexistent' is not a directory"),
    (['--device', 'gpu0'], None, "device must be a Chainer device such as @numpy or @cupy:0; 'gpu0'"),
    (['--communicator', 'mpich'], None, "argument --communicator: invalid choice: 'mpich'"),
])
def test_command_line_bad_input_exits_2_without_traceback(tmp_path, args, env, message):
    r = cli('--dataset', 'digits', '--out', str(tmp_path), *args, env=env)
    assert r.returncode == 2
    assert message in r.stderr and 'Traceback' not in r.stderr
    assert not os.path.exists(tmp_path / 'digits')  # nothing started


def test_unwritable_output_folder_is_found_before_training(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    r = cli('--dataset', 'digits', '--out', str(blocker))
    assert r.returncode == 2 and 'out ' in r.stderr and 'not a writable directory' in r.stderr
    assert 'epoch' not in r.stdout
