"""lab/convolution.py: the convolution and the transposed convolution against Chainer's own, on
random shapes, strides, paddings and batch sizes, every gradient, Chainer's gradient_check; the
links keep Chainer's layout and snapshots, and fall back to Chainer's functions where the path
does not apply."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest
from chainer import gradient_check

import conv_autoencoder as cae
from lab import convolution


def shapes(seed, count=40):
    """Random (n, c, oc, k, s, p, h, w) whose outputs have at least one pixel."""
    rng, found = np.random.default_rng(seed), []
    while len(found) < count:
        n, c, oc, k = (int(v) for v in rng.integers(1, 6, 4))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, k))
        h, w = (int(v) for v in rng.integers(k, 13, 2))
        if (h + 2 * p - k) // s >= 0 and (w + 2 * p - k) // s >= 0 and s * (h - 1) + k > 2 * p:
            found.append((n, c, oc, k, s, p, h, w))
    return found


@pytest.mark.parametrize('transposed', [False, True], ids=['convolution', 'deconvolution'])
def test_forward_and_every_gradient_are_chainers_on_random_shapes(transposed):
    rng = np.random.default_rng(1)
    for n, c, oc, k, s, p, h, w in shapes(2 + transposed):
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        W = rng.standard_normal((c, oc, k, k) if transposed else (oc, c, k, k)).astype(np.float32)
        b = rng.standard_normal(oc).astype(np.float32)
        node, theirs = ((convolution.Deconvolution, F.deconvolution_2d) if transposed else
                        (convolution.Convolution, F.convolution_2d))
        ours_out = node((s, s), (p, p)).apply([chainer.Variable(a) for a in (x, W, b)])[0]
        their_out = theirs(x, W, b, stride=s, pad=p)
        assert ours_out.shape == their_out.shape
        np.testing.assert_allclose(ours_out.array, their_out.array, rtol=1e-5, atol=1e-5)
        gy = rng.standard_normal(their_out.shape).astype(np.float32)
        grads = []
        for fn in (lambda *v: node((s, s), (p, p)).apply(v)[0],
                   lambda *v: theirs(*v, stride=s, pad=p)):
            variables = [chainer.Variable(a.copy()) for a in (x, W, b)]
            y = fn(*variables)
            y.grad = gy.copy()
            y.backward()
            grads.append([v.grad for v in variables])
        for ours_grad, their_grad in zip(*grads):
            np.testing.assert_allclose(ours_grad, their_grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('transposed', [False, True], ids=['convolution', 'deconvolution'])
def test_gradient_check(transposed):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 5))
    W = rng.standard_normal((3, 2, 3, 3) if transposed else (2, 3, 3, 3))
    b = rng.standard_normal(2)
    node = convolution.Deconvolution if transposed else convolution.Convolution
    gy = rng.standard_normal(node((2, 1), (1, 0)).apply((x, W, b))[0].shape)
    gradient_check.check_backward(lambda *v: node((2, 1), (1, 0)).apply(v), (x, W, b), gy,
                                  dtype=np.float64, atol=1e-5, rtol=1e-4)


def test_the_links_keep_chainers_layout_snapshots_and_fall_back_elsewhere(tmp_path):
    ours, stock = convolution.Convolution2D(3, 4, 4, 2, 1), L.Convolution2D(3, 4, 4, 2, 1)
    assert ours.W.shape == stock.W.shape == (4, 3, 4, 4)
    chainer.serializers.save_npz(str(tmp_path / 'ours.npz'), ours)
    chainer.serializers.load_npz(str(tmp_path / 'ours.npz'), stock)  # each loads the other's
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    assert isinstance(ours(x).creator, convolution.Convolution)
    np.testing.assert_allclose(ours(x).array, stock(x).array, rtol=1e-5, atol=1e-5)
    with chainer.using_config('dtype', np.float64):
        double = convolution.Convolution2D(3, 4, 4, 2, 1)  # float64 parameters: Chainer's path
    assert not isinstance(double(x.astype(np.float64)).creator, convolution.Convolution)
    deconv = convolution.Deconvolution2D(3, 2, 4, 2, 1)
    assert isinstance(deconv(x).creator, convolution.Deconvolution)
    sized = convolution.Deconvolution2D(3, 2, 4, 2, 1, outsize=(16, 16))
    assert not isinstance(sized(x).creator, convolution.Deconvolution)


def test_the_autoencoder_computes_what_it_computed_with_chainers_convolutions(digits):
    """The model's code and reconstruction, and a training step's gradients, with this path
    and with Chainer's own, agree to float32 rounding."""
    x = digits[0][0][:20]
    results = []
    for enabled in (True, False):
        convolution.enabled = enabled
        try:
            model = cae.ConvAutoEncoder(64, 10, (4, 6), dropout_ratio=0, activate='relu', seed=2)
            loss = F.mean_squared_error(model(x), x)
            model.cleargrads()
            loss.backward()
            results.append([model(x, hidden=True).array, float(loss.array)]
                           + [p.grad.copy() for _, p in sorted(model.namedparams())])
        finally:
            convolution.enabled = True
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
