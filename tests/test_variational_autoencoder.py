"""variational_autoencoder.py: its loss against the ELBO written out in NumPy, training on the
digits, a resumed run equal to an uninterrupted one, bad input, and the command end to end."""
import json
import os
import types

import chainer
import numpy as np
import pytest
from conftest import run_script, snapshot_and_reload

import variational_autoencoder as vae
from lab import signals
from lab.options import ConfigError


def numpy_negative_elbo(p, x, eps):
    """-ELBO per image, one sample an image: the module docstring's equations in NumPy."""
    h = np.tanh(x @ p['encoder/W'].T + p['encoder/b'])
    mu, ln_var = h @ p['mu/W'].T + p['mu/b'], h @ p['ln_var/W'].T + p['ln_var/b']
    z = mu + np.exp(ln_var / 2) * eps
    y = 1 / (1 + np.exp(-(np.tanh(z @ p['hidden/W'].T + p['hidden/b']) @ p['decoder/W'].T
                          + p['decoder/b'])))
    reconstruction = -np.sum(x * np.log(y) + (1 - x) * np.log(1 - y))
    kl = np.sum(mu ** 2 + np.exp(ln_var) - ln_var - 1) / 2
    return (reconstruction + kl) / len(x)


def test_the_loss_is_the_elbo_written_out_in_numpy_and_a_step_follows_its_gradient():
    """Its loss is the NumPy ELBO's negative, and the gradient a step takes, of the
    log-variance's weights, is the NumPy loss's by central differences."""
    model = vae.VAE(16, 5, 3, seed=3)
    for param in model.params():
        param.array = param.array.astype(np.float64)
    rng = np.random.default_rng(1)
    x, eps = rng.random((6, 16)), rng.standard_normal((6, 3))
    p = {name[1:]: param.array.copy() for name, param in model.namedparams()}
    loss = vae.Train_VAE.negative_elbo(types.SimpleNamespace(model=model), x, eps)
    assert float(loss.array) == pytest.approx(numpy_negative_elbo(p, x, eps), rel=1e-12)
    model.cleargrads()
    loss.backward()
    numeric = np.zeros_like(p['ln_var/W'])
    for index in np.ndindex(*numeric.shape):
        for sign in (1, -1):
            q = dict(p, **{'ln_var/W': p['ln_var/W'].copy()})
            q['ln_var/W'][index] += sign * 1e-6
            numeric[index] += sign * numpy_negative_elbo(q, x, eps) / 2e-6
    np.testing.assert_allclose(model.ln_var.W.grad, numeric, rtol=1e-6, atol=1e-9)
    gradient = model.ln_var.W.grad.copy()
    optimizer = chainer.optimizers.SGD(lr=.5)
    optimizer.setup(model)
    optimizer.update()  # the step: W - lr g
    np.testing.assert_allclose(model.ln_var.W.array, p['ln_var/W'] - .5 * gradient, rtol=1e-12)


def make_trainer(digits, seed=0, n_latent=2):
    return vae.Train_VAE(digits[0], vae.VAE(64, 40, n_latent, seed=seed), rng=seed,
                         optimizer='Adam')


def test_training_raises_the_elbo_and_measures_it_with_fixed_noise(digits):
    trainer = make_trainer(digits)
    trainer.start(4, 50, log=None)
    assert trainer.elbo_values[-1] > trainer.elbo_values[0]
    assert trainer.test_elbo_values[-1] > trainer.test_elbo_values[0]
    assert trainer.elbo(trainer.test) == trainer.test_elbo_values[-1]  # the same noise again
    assert trainer.test_loss_values[-1] < trainer.test_loss_values[0]  # the MSE of decode(mu)
    assert trainer.condition_to_string() == \
        'VAE_alg=Adam_epoch=4_nhidden=40_nlatent=2_activate=tanh'
    pictures = trainer.model.weight_pictures()
    assert pictures['manifold.png'].rows.shape == (400, 64)
    assert pictures['samples.png'].rows.shape == (100, 64)
    assert 'manifold.png' not in make_trainer(digits, n_latent=3).model.weight_pictures()


@pytest.mark.parametrize('updates', [40, 54])  # in the middle of epoch 2; at its very end
def test_a_resumed_run_equals_an_uninterrupted_one(digits, tmp_path, stop_after, updates):
    reference = make_trainer(digits)
    reference.start(3, 50, log=None)  # 27 minibatches an epoch
    trainer = make_trainer(digits)
    stop_after(updates)
    with pytest.raises(signals.Interrupted):
        trainer.start(3, 50, log=None)
    resumed = snapshot_and_reload(trainer, lambda seed: make_trainer(digits, seed), tmp_path)
    resumed.train_to(3, 50, log=None)
    assert resumed.elbo_values == reference.elbo_values
    assert resumed.test_loss_values == reference.test_loss_values
    for (name, p), (_, q) in zip(sorted(reference.model.namedparams()),
                                 sorted(resumed.model.namedparams())):
        np.testing.assert_array_equal(p.array, q.array, err_msg=name)


@pytest.mark.parametrize('args, message', [
    (['--n-latent', '0'], '--n-latent must be an integer >= 1, got 0'),
    (['--beta', '-1'], "beta must be"),
    (['--activate', 'cube'], "activate"),
])
def test_bad_input_is_refused_before_the_data_naming_the_option(tmp_path, args, message):
    r = run_script('variational_autoencoder.py', '--dataset', 'digits', '--out', str(tmp_path),
                   *args)
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr
    assert 'data:' not in r.stdout


def test_the_model_refuses_a_code_of_no_size():
    with pytest.raises(ConfigError, match='n_latent'):
        vae.VAE(64, 10, 0)


def test_the_command_line_writes_the_manifold_the_samples_and_the_elbo(tmp_path):
    r = run_script('variational_autoencoder.py', '--dataset', 'digits', '--epoch', '2',
                   '--n-hidden', '40', '--n-latent', '2', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert 'ELBO train' in r.stdout
    name = 'VAE_alg=Adam_epoch=2_nhidden=40_nlatent=2_activate=tanh'
    for suffix in ('enc.png', 'samples.png', 'manifold.png', 'loss.png', 'reconstruction.png',
                   'model.npz'):
        assert os.path.exists(tmp_path / 'digits' / (name + suffix)), suffix
    run = json.loads((tmp_path / 'digits' / (name + 'run.json')).read_text())
    log = json.loads((tmp_path / 'digits' / (name + 'log.json')).read_text())
    assert run['script'] == 'variational_autoencoder.py' and len(run['elbo_values']) == 2
    assert [e['test_elbo'] for e in log] == run['test_elbo_values']
    assert [e['test'] for e in log] == run['test_loss_values']
