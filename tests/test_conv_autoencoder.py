"""conv_autoencoder.py: the shapes, its arithmetic against a convolution written out in NumPy,
its outputs, and Train_AutoEncoder training it as it trains the dense one."""
import json
import os

import chainer
import numpy as np
import pytest
from conftest import run_script

import autoencoder as ae
import conv_autoencoder as cae
from lab.options import ConfigError


@pytest.mark.parametrize('n_inputs, side', [(784, 28), (64, 8)])
def test_the_shapes_for_mnist_and_the_digits(n_inputs, side):
    model = cae.ConvAutoEncoder(n_inputs, 100, (16, 32), seed=0)
    x = np.random.default_rng(0).random((5, n_inputs), dtype=np.float32)
    with chainer.using_config('train', False):
        assert model(x, hidden=True).shape == (5, 100)
        assert model(x).shape == (5, n_inputs)
    assert model.conv1.W.shape == (16, 1, 4, 4) and model.deconv1.W.shape == (16, 1, 4, 4)
    assert model.encoder.W.shape == (100, 32 * (side // 4) ** 2)
    pictures = model.weight_pictures()
    assert pictures['kernels.png'].shape == (16, 16)
    assert pictures['units.png'].shape == (100, n_inputs)


def conv(x, w, b):
    """y[o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x[c, 2 i + u - 1, 2 j + v - 1], by loops."""
    c_out, c_in, k, _ = w.shape
    n = x.shape[-1]
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((len(x), c_out, n // 2, n // 2))
    for i in range(n // 2):
        for j in range(n // 2):
            patch = padded[:, :, 2 * i:2 * i + k, 2 * j:2 * j + k]
            y[:, :, i, j] = np.einsum('ncuv,ocuv->no', patch, w) + b
    return y


def deconv(x, w, b):
    """The transposed convolution: each x[o, i, j] adds w[o, c, :, :] at (2 i - 1, 2 j - 1)."""
    c_in, c_out, k, _ = w.shape
    n = x.shape[-1]
    y = np.zeros((len(x), c_out, 2 * n + 2, 2 * n + 2))  # padded by one on each side
    for i in range(n):
        for j in range(n):
            y[:, :, 2 * i:2 * i + k, 2 * j:2 * j + k] += np.einsum('no,ocuv->ncuv', x[:, :, i, j],
                                                                   w)
    return y[:, :, 1:-1, 1:-1] + b[None, :, None, None]


def numpy_loss(p, x):
    """The model's eval-mode MSE, written out in NumPy from its parameters p."""
    s = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h = s(conv(x.reshape(-1, 1, 8, 8), p['conv1/W'], p['conv1/b']))
    h = s(conv(h, p['conv2/W'], p['conv2/b'])).reshape(len(x), -1)
    code = s(h @ p['encoder/W'].T + p['encoder/b'])
    g = s(code @ p['decoder/W'].T + p['decoder/b']).reshape(len(x), -1, 2, 2)
    g = s(deconv(g, p['deconv2/W'], p['deconv2/b']))
    y = s(deconv(g, p['deconv1/W'], p['deconv1/b'])).reshape(len(x), -1)
    return np.mean((y - x) ** 2)


def test_a_training_step_is_the_convolution_written_out_in_numpy():
    """Its loss is the NumPy model's, and the gradient a step takes, of the first kernels, is
    the NumPy loss's by central differences: forward and backward checked independently."""
    model = cae.ConvAutoEncoder(64, 4, (2, 3), dropout_ratio=0, seed=3)
    model.to_device('@numpy')
    for param in model.params():
        param.array = param.array.astype(np.float64)
    x = np.random.default_rng(1).random((6, 64))
    p = {name[1:]: param.array.copy() for name, param in model.namedparams()}
    with chainer.using_config('train', False):
        loss = chainer.functions.mean((model(x) - x) ** 2)
    assert float(loss.array) == pytest.approx(numpy_loss(p, x), rel=1e-12)
    model.cleargrads()
    loss.backward()
    numeric = np.zeros_like(p['conv1/W'])
    for index in np.ndindex(*numeric.shape):
        for sign in (1, -1):
            q = dict(p, **{'conv1/W': p['conv1/W'].copy()})
            q['conv1/W'][index] += sign * 1e-6
            numeric[index] += sign * numpy_loss(q, x) / 2e-6
    np.testing.assert_allclose(model.conv1.W.grad, numeric, rtol=1e-5, atol=1e-10)
    optimizer = chainer.optimizers.SGD(lr=.5)
    optimizer.setup(model)
    optimizer.update()  # the step: W - lr g
    np.testing.assert_allclose(model.conv1.W.array, p['conv1/W'] - .5 * numeric, rtol=1e-8,
                               atol=1e-10)


def test_the_dense_trainer_trains_it(digits):
    data, _ = digits
    model = cae.ConvAutoEncoder(64, 20, (4, 8), dropout_ratio=.1, activate='relu', seed=0)
    trainer = ae.Train_AutoEncoder(data, model, corruption_ratio=.3, rng=0, optimizer='Adam')
    trainer.start(4, 50, log=None)
    assert trainer.test_loss_values[-1] < trainer.test_loss_values[0]
    assert trainer.condition_to_string().startswith('alg=Adam_epoch=4_corp=30conv=4-8drop=10')


@pytest.mark.parametrize('make, message', [
    (lambda: cae.ConvAutoEncoder(60), 'n_inputs must be a square image whose side divides by 4'),
    (lambda: cae.ConvAutoEncoder(36), 'got 36'),
    (lambda: cae.ConvAutoEncoder(64, channels=(8,)), r'channels must be two sizes \(C1, C2\)'),
    (lambda: cae.ConvAutoEncoder(64, channels=(8, 0)), r'channels\[1\] must be an integer >= 1'),
])
def test_bad_input_is_refused_naming_it(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_the_command_line_writes_its_pictures_and_the_runs_files(tmp_path):
    r = run_script('conv_autoencoder.py', '--dataset', 'digits', '--epoch', '1', '--channels',
                   '4', '8', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    name = 'alg=Adam_epoch=1_corp=30conv=4-8drop=10activate=relu_nhidden=100'
    for suffix in ('kernels.png', 'units.png', 'loss.png', 'reconstruction.png', 'model.npz',
                   'log.json'):
        assert os.path.exists(tmp_path / 'digits' / (name + suffix)), suffix
    run = json.loads((tmp_path / 'digits' / (name + 'run.json')).read_text())
    assert run['script'] == 'conv_autoencoder.py' and run['arguments']['channels'] == [4, 8]
