"""The fused kernels compute what Chainer's own functions and update rules compute."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest
from chainer import gradient_check, optimizers

import autoencoder as ae
from lab import kernels


def train_steps(optimizer, steps=150, seed=0):
    """A small and a large parameter updated with the same random gradients; their values
    after every step."""
    rng = np.random.default_rng(seed)
    link = chainer.Chain()
    with link.init_scope():
        link.small = chainer.Parameter(rng.standard_normal(37).astype(np.float32))
        link.large = chainer.Parameter(
            rng.standard_normal((300, 256)).astype(np.float32))
    optimizer.setup(link)
    history = []
    for _ in range(steps):
        link.cleargrads()
        for p in link.params():
            p.grad = rng.standard_normal(p.shape).astype(np.float32)
        optimizer.update()
        history.append([p.array.copy() for p in link.params()])
    return link, history


@pytest.mark.parametrize('stock, fused', [
    (lambda: optimizers.AdaDelta(), lambda: kernels.AdaDelta()),
    (lambda: optimizers.AdaDelta(rho=.9, eps=1e-4), lambda: kernels.AdaDelta(rho=.9, eps=1e-4)),
    (lambda: optimizers.Adam(), lambda: kernels.Adam()),
    (lambda: optimizers.Adam(alpha=3e-3, beta1=.8, eps=1e-6), lambda: kernels.Adam(alpha=3e-3, beta1=.8, eps=1e-6)),
    (lambda: optimizers.Adam(amsgrad=True), lambda: kernels.Adam(amsgrad=True)),  # falls back
    (lambda: optimizers.Adam(weight_decay_rate=.1), lambda: kernels.Adam(weight_decay_rate=.1)),
    (lambda: optimizers.MomentumSGD(lr=.05), lambda: kernels.MomentumSGD(lr=.05)),
    (lambda: optimizers.NesterovAG(lr=.01, momentum=.99),
     lambda: kernels.NesterovAG(lr=.01, momentum=.99)),
])
def test_fused_update_rules_follow_chainers_own(stock, fused):
    (_, expected), (_, got) = train_steps(stock()), train_steps(fused())
    for step, (a, b) in enumerate(zip(expected, got)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(y, x, rtol=1e-6, atol=1e-7, err_msg=f"step {step + 1}")


@pytest.mark.parametrize('level', ['optimizer', 'update rule'])
def test_hooks_take_chainers_own_path_with_the_same_result(level):
    """A hook on the optimizer, or on a parameter's own update rule (which the fused loop
    checks for itself), is applied as Chainer applies it."""
    results = []
    for optimizer in (optimizers.Adam(), kernels.Adam()):
        link, history = train_steps(optimizer, steps=0)
        if level == 'optimizer':
            optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(.01))
        else:
            for p in link.params():
                p.update_rule.add_hook(chainer.optimizer_hooks.WeightDecay(.01))
        rng = np.random.default_rng(1)
        for _ in range(20):
            for p in link.params():
                p.grad = rng.standard_normal(p.shape).astype(np.float32)
            optimizer.update()
        results.append([p.array.copy() for p in link.params()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('save_with, load_with', [
    (optimizers.Adam, kernels.Adam), (kernels.Adam, optimizers.Adam),
    (optimizers.AdaDelta, kernels.AdaDelta), (kernels.AdaDelta, optimizers.AdaDelta)])
def test_snapshots_load_either_way(tmp_path, save_with, load_with):
    """The same state names: a stock optimizer's state loads into a fused one and back."""
    saved = save_with()
    link, _ = train_steps(saved, steps=3)
    chainer.serializers.save_npz(str(tmp_path / 'o.npz'), saved)
    loaded = load_with()
    loaded.setup(link.copy(mode='copy'))
    chainer.serializers.load_npz(str(tmp_path / 'o.npz'), loaded)
    assert loaded.t == saved.t == 3
    for (name, p), (_, q) in zip(sorted(link.namedparams()), sorted(loaded.target.namedparams())):
        assert p.update_rule.state.keys() == q.update_rule.state.keys()
        for key, value in p.update_rule.state.items():
            np.testing.assert_array_equal(q.update_rule.state[key], value, err_msg=name + key)


def test_the_scripts_get_the_fused_twins_and_keep_their_settings():
    optimizer = ae.get_optimizer(optimizers.Adam(alpha=.01))
    assert type(optimizer) is kernels.Adam and optimizer.alpha == .01
    assert type(ae.get_optimizer('AdaDelta')) is kernels.AdaDelta
    assert type(ae.get_optimizer(optimizers.MomentumSGD)) is kernels.MomentumSGD
    assert type(ae.get_optimizer('NesterovAG')) is kernels.NesterovAG
    assert type(ae.get_optimizer('RMSprop')) is optimizers.RMSprop  # no twin: Chainer's own


def test_the_callers_optimizer_is_left_alone_and_its_hyperparameters_kept():
    mine = optimizers.AdaDelta(rho=.9, eps=1e-4)
    theirs = ae.get_optimizer(mine, None)
    assert type(mine) is optimizers.AdaDelta and theirs is not mine
    assert type(theirs) is kernels.AdaDelta and (theirs.rho, theirs.eps) == (.9, 1e-4)
    mine = optimizers.MomentumSGD(lr=.1, momentum=.5)
    theirs = ae.get_optimizer(mine, .02)
    assert (mine.lr, theirs.lr, theirs.momentum) == (.1, .02, .5)


@pytest.mark.parametrize('activate', [F.sigmoid, F.relu, F.tanh, F.identity])
def test_compose_is_the_composed_functions(activate):
    rng = np.random.default_rng(0)
    link = L.Linear(7, 5, initialW=rng.standard_normal((5, 7)).astype(np.float32))
    link.b.array[...] = rng.standard_normal(5)
    x = chainer.Variable(rng.standard_normal((4, 7)).astype(np.float32))
    gy = rng.standard_normal((4, 5)).astype(np.float32)
    results = []
    for f in (lambda: kernels.compose(activate, link)(x), lambda: activate(link(x))):
        link.cleargrads()
        x.grad = None
        y = f()
        y.grad = gy
        y.backward()
        results.append((y.array, x.grad, link.W.grad, link.b.grad))
    fused, composed = results
    assert isinstance(kernels.compose(activate, link)(x).creator, kernels.LinearActivation)
    for a, b in zip(fused, composed):  # float32 rounding: sigmoid is computed another way
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name', ['sigmoid', 'relu', 'tanh', 'identity'])
def test_linear_activation_gradient_check(name):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (3, 4))
    w = rng.uniform(-1, 1, (2, 4))
    b = rng.uniform(-1, 1, 2)
    if name == 'relu':  # keep away from the kink, where the numerical gradient is wrong
        x, w, b = np.abs(x), np.abs(w), b + 2
    gy = rng.uniform(-1, 1, (3, 2))
    gradient_check.check_backward(
        lambda *inputs: kernels.LinearActivation(name).apply(inputs)[0], (x, w, b), gy,
        eps=1e-4, atol=1e-6, rtol=1e-5, dtype=np.float64)


def test_any_other_activation_is_composed():
    link = L.Linear(3, 2)
    x = np.ones((2, 3), np.float32)
    y = kernels.compose(F.softplus, link)(x)
    assert not isinstance(y.creator, kernels.LinearActivation)
    np.testing.assert_array_equal(y.array, F.softplus(link(x)).array)
    custom = lambda h: 2 * h  # noqa: E731 - a user's own activation, also named like none
    np.testing.assert_array_equal(kernels.compose(custom, link)(x).array,
                                  2 * link(x).array)


def test_mean_squared_error_is_chainers():
    rng = np.random.default_rng(2)
    x = rng.random((6, 5), dtype=np.float32)
    results = []
    for f in (kernels.mean_squared_error, F.mean_squared_error):
        y = chainer.Variable(rng.random((6, 5), dtype=np.float32))
        y.array[...] = np.arange(30, dtype=np.float32).reshape(6, 5) / 30
        loss = f(y, x)
        loss.backward()
        results.append((loss.array, y.grad))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert results[0][0].shape == () and results[0][0].dtype == np.float32
    gradient_check.check_backward(lambda a, b: kernels.MeanSquaredError().apply((a, b))[0],
                                  (rng.random((3, 4)), rng.random((3, 4))), np.array(1.5),
                                  atol=1e-6, rtol=1e-5, dtype=np.float64)
