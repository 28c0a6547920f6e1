import json
import os

import chainer
import chainer.functions as F
import numpy as np
import pytest
from conftest import run_script

import deep_autoencoder as da


def make(digits, sizes=(32, 16), seed=0):
    data, _ = digits
    model = da.DAE(64, sizes, 'sigmoid', .1, seed=seed)
    return da.Train_DAE(data, model, .3, 'Adam', rng=seed)


def test_links_are_the_originals_for_two_sizes():
    model = da.DAE(784, (100, 25))
    shapes = [(link.W.shape[1], link.W.shape[0]) for link in model.layers]
    assert shapes == [(784, 100), (100, 25), (25, 100), (100, 784)]
    assert [name for name, _ in sorted(model.namedlinks(skipself=True))] == ['/l1', '/l2', '/l3', '/l4']
    assert model.to_string() == 'nhidden1=100nhidden2=25corp=0activate=sigmoid'
    x = np.zeros((3, 784), np.float32)
    with chainer.using_config('train', False):
        assert model(x, hidden=True).shape == (3, 25) and model(x).shape == (3, 784)


def test_pretraining_copies_the_stacked_weights(digits):
    trainer = make(digits)
    trainer.pre_training(epoch=2, batchsize=50, log=None)
    model, (first, second) = trainer.model, [t.model for t in trainer.pretrainers]
    for link, source in ((model.l1, first.encoder), (model.l2, second.encoder),
                         (model.l3, second.decoder), (model.l4, first.decoder)):
        np.testing.assert_array_equal(link.W.array, source.W.array)
        np.testing.assert_array_equal(link.b.array, source.b.array)
        assert link.W.array is not source.W.array
    # the second autoencoder learned from the eval-mode codes of the first, train and test
    codes = trainer.pretrainers[1]
    assert codes.train.shape == (len(trainer.train), 32) and codes.test.shape == (len(trainer.test), 32)
    with chainer.using_config('train', False):
        np.testing.assert_array_equal(codes.test, first(trainer.test, hidden=True).array)
    assert [len(t.loss_values) for t in trainer.pretrainers] == [2, 2]


def test_stacked_autoencoders_use_the_dae_settings(digits):
    data, _ = digits
    model = da.DAE(64, (32, 16), 'tanh', .2)
    trainer = da.Train_DAE(data, model, .25, 'AdaDelta', rng=0)
    trainer.pre_training(epoch=1, batchsize=100, log=None)
    for t in trainer.pretrainers:
        assert t.model.activate is model.activate and t.model.dropout_ratio == .2
        assert t.corruption_ratio == .25 and type(t.optimizer).__name__ == 'AdaDelta'
        assert t.optimizer is not trainer.optimizer


def test_features_in_pixels_is_the_product_of_the_encoder_weights():
    model = da.DAE(6, (4, 3, 2))
    w1, w2, w3 = (np.arange(np.prod(link.W.shape), dtype=np.float32).reshape(link.W.shape) % 5 - 2
                  for link in model.layers[:3])
    for link, w in zip(model.layers, (w1, w2, w3)):
        link.W.array[...] = w
    np.testing.assert_array_equal(model.features_in_pixels(1), w1)
    np.testing.assert_array_equal(model.features_in_pixels(2), w2 @ w1)
    np.testing.assert_array_equal(model.features_in_pixels(3), w3 @ w2 @ w1)
    assert model.features_in_pixels(3).shape == (2, 6)
    pictures = model.weight_pictures()
    assert list(pictures) == ['layer1.png', 'layer2.png', 'layer3.png', 'layer2_in_pixels.png',
                              'layer3_in_pixels.png']
    np.testing.assert_array_equal(pictures['layer3_in_pixels.png'], w3 @ w2 @ w1)


def test_output_is_not_dropped_out():
    """With a zero last weight every output is sigmoid(bias), in training mode too."""
    model = da.DAE(64, (32, 16), 'sigmoid', dropout_ratio=.5)
    model.l4.W.array[...] = 0
    model.l4.b.array[...] = 1
    x = np.random.default_rng(0).random((50, 64), dtype=np.float32)
    with chainer.using_config('train', True):
        y = model(x).array
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-1)), rtol=1e-6)
    with chainer.using_config('train', True):  # while the hidden layers are dropped out
        assert (model(x, hidden=True).array == 0).mean() > .3


def test_fine_tuning_improves_on_pretraining(digits):
    trainer = make(digits)
    trainer.pre_training(epoch=10, batchsize=20, log=None)
    pretrained = trainer.evaluate(trainer.test)
    trainer.fine_tuning(epoch=10, batchsize=20, log=None)
    assert trainer.test_loss_values[-1] < 0.9 * pretrained


def test_three_sizes_train(digits):
    trainer = make(digits, sizes=(32, 16, 8))
    assert len(trainer.model.layers) == 6
    trainer.pre_training(epoch=2, batchsize=50, log=None)
    assert trainer.pretrainers[2].train.shape[1] == 16
    losses = trainer.fine_tuning(epoch=3, batchsize=50, log=None)
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert trainer.model.features_in_pixels(3).shape == (8, 64)


def test_same_seed_same_result(digits):
    a, b = make(digits), make(digits)
    for t in (a, b):
        t.pre_training(epoch=1, batchsize=50, log=None)
        t.fine_tuning(epoch=1, batchsize=50, log=None)
    assert a.loss_values == b.loss_values
    np.testing.assert_array_equal(a.model.l2.W.array, b.model.l2.W.array)


@pytest.mark.parametrize('extra, prefix', [([], 'DAE_'), (['--no-pretraining'], 'DAE_nopretrain_')])
def test_command_line_run_writes_every_output(tmp_path, extra, prefix):
    r = run_script('deep_autoencoder.py', '--pretrain-epoch', '1', '--finetune-epoch', '1',
                   '--dataset', 'digits', '--out', str(tmp_path), *extra)
    assert r.returncode == 0, r.stderr
    name = prefix + 'alg=Adam_epoch=1_corp=30nhidden1=100nhidden2=25corp=30activate=sigmoid'
    name += '' if extra else '_pretrain=1'  # not the original's 20 epochs a layer
    suffixes = ['layer1.png', 'layer2.png', 'layer2_in_pixels.png', 'log.json', 'loss.png',
                'model.npz', 'reconstruction.png', 'run.json']
    assert sorted(os.listdir(tmp_path / 'digits')) == ['.locks', *sorted(name + s for s in suffixes)]
    log = json.loads((tmp_path / 'digits' / (name + 'log.json')).read_text())
    phases = [] if extra else [('pretrain layer 1', 1), ('pretrain layer 2', 1)]
    assert [(e['phase'], e['epoch']) for e in log] == phases + [('fine-tune', 1)]
    run = json.loads((tmp_path / 'digits' / (name + 'run.json')).read_text())
    assert run['arguments']['no_pretraining'] == bool(extra) and run['arguments']['seed'] == 71
    assert len(run['pretrain_loss_values']) == (0 if extra else 2)
    assert ('pretrain layer 2, epoch 1/1' in r.stdout) == (not extra)
    assert 'fine-tune epoch 1/1' in r.stdout


def test_code_and_output_layers_have_activations_of_their_own(digits):
    model = da.DAE(64, (32, 16), 'relu', 0, code_activate='identity', output_activate='sigmoid')
    trainer = da.Train_DAE(digits[0], model, 0, 'Adam', loss='bce', pretrain_corruption_ratio=.2)
    trainer.pre_training(1, 50, log=None)
    first, code = trainer.pretrainers  # 64 -> 32 -> 64, then 32 -> 16 -> 32
    assert (first.loss, code.loss) == ('bce', 'mse')
    assert first.corruption_ratio == code.corruption_ratio == .2 and trainer.corruption_ratio == 0
    assert (first.model.code_activate, first.model.output_activate) == (F.relu, F.sigmoid)
    assert (code.model.code_activate, code.model.output_activate) == (F.identity, F.relu)
    x = trainer.test[:50]
    with chainer.using_config('train', False):
        code_values = model.l2(F.relu(model.l1(x))).array  # no activation on the code
        np.testing.assert_allclose(model(x, hidden=True).array, code_values, rtol=1e-5)
        assert (code_values < 0).any()
        np.testing.assert_allclose(F.sigmoid(model(x, logits=True)).array, model(x).array,
                                   atol=1e-6)


def test_sparse_initialisation_gives_each_unit_15_gaussian_inputs_and_no_bias():
    model = da.DAE(784, (1000, 500, 10), init='sparse', seed=3)
    for link in model.layers:
        nonzero = (link.W.array != 0).sum(axis=1)
        assert (nonzero == min(15, link.W.shape[1])).all()  # 10 inputs: all of them
        assert not link.b.array.any()
    values = model.l1.W.array[model.l1.W.array != 0]
    assert abs(values.mean()) < .03 and abs(values.std() - 1) < .03  # 15,000 unit Gaussians
    again = da.DAE(784, (1000, 500, 10), init='sparse', seed=3)
    np.testing.assert_array_equal(again.l2.W.array, model.l2.W.array)
    assert da.DAE(784, (1000, 500, 10), seed=3).l1.W.array.all()  # LeCun normal: dense


def test_weight_decay_adds_its_share_of_each_parameter_to_the_step(digits):
    """One SGD step on the whole training set, with and without weight decay, from the same
    start: the difference is -lr * rate * p0, for every parameter; in fine-tuning only."""
    data, _ = digits
    lr, rate, n = .1, .01, len(data[0])
    results = []
    for decay in (0., rate):
        model = da.DAE(64, (16, 8), 'sigmoid', 0., seed=0)
        start = {name: p.array.copy() for name, p in model.namedparams()}
        trainer = da.Train_DAE(data, model, 0., da.get_optimizer('SGD', lr), rng=0,
                               weight_decay=decay)
        trainer.pre_training(1, n, log=None)
        pretrained = {name: p.array.copy() for name, p in model.namedparams()}
        trainer.fine_tuning(1, n, log=None)
        results.append((start, pretrained, {name: p.array for name, p in model.namedparams()}))
    (_, pre_a, a), (_, pre_b, b) = results
    for name in a:
        np.testing.assert_array_equal(pre_a[name], pre_b[name])  # pretraining: no decay
        np.testing.assert_allclose(b[name] - a[name], -lr * rate * pre_a[name], atol=1e-7)
