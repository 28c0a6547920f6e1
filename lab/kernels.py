"""Fused kernels: Chainer's own mathematics in fewer passes over memory, on the CPU.

Nothing here changes what a run computes (beyond float32 rounding, where sigmoid is computed
another way); it changes how many times the arrays are walked. Each kernel stays only where it
buys 3% of a training epoch or more on some row the project trains (measured on and off by
benchmarks/kernel_onoff.py; the numbers are in docs/engineering.md):

Update rules  AdaDelta, Adam, MomentumSGD and NesterovAG: subclasses of Chainer's optimizers
              whose CPU update is one compiled loop per parameter (numba) instead of a dozen
              NumPy passes with temporaries. Same hyperparameter and state names (snapshots
              load either way), same results within float32 rounding; the GPU path and every
              option the loop does not cover (AMSGrad, AdaBound, Adam's weight_decay_rate,
              float16) fall back to Chainer's own code. Optimizer hooks (WeightDecay) run
              before the loop, as in Chainer. fused() swaps a stock optimizer for its twin.
compose(f, link)(x)
              f(link(x)) for a Linear link, as one FunctionNode with a hand-written backward,
              for f in sigmoid, relu, tanh, identity (any other f: the composed F.linear and f).
mean_squared_error(y, x)
              F.mean_squared_error with a backward of one node instead of four.
The nodes are not differentiable twice; outside float32 NumPy arrays they fall back to
Chainer's own functions. The convolutions of conv_autoencoder.py: lab/convolution.py.
"""
import chainer
import chainer.functions as F
import numba
import numpy as np
from chainer import optimizers


def _compile(loop):
    """One elementwise loop over flat float32 arrays, compiled once (cached beside the code).

    error_model='numpy' (a division by zero gives inf, as in NumPy, instead of raising) is what
    lets LLVM vectorise the loop. One thread: a loop of this size is bound by memory, and
    threads of numba's beside OpenBLAS's fight over the cores."""
    return numba.njit(cache=True, nogil=True, error_model='numpy')(loop)


def _adadelta(param, grad, msg, msdx, rho, one_minus_rho, eps):
    for i in range(param.size):
        g = grad[i]
        s = msg[i] * rho + one_minus_rho * g * g
        msg[i] = s
        dx = np.sqrt((msdx[i] + eps) / (s + eps)) * g
        msdx[i] = msdx[i] * rho + one_minus_rho * dx * dx
        param[i] -= dx


def _adam(param, grad, m, v, one_minus_beta1, one_minus_beta2, alpha_t, eps, eta):
    for i in range(param.size):
        g = grad[i]
        mi = m[i] + one_minus_beta1 * (g - m[i])
        vi = v[i] + one_minus_beta2 * (g * g - v[i])
        m[i] = mi
        v[i] = vi
        param[i] += -eta * (alpha_t / (np.sqrt(vi) + eps) * mi)


def _momentum_sgd(param, grad, velocity, momentum, lr):
    for i in range(param.size):
        vi = momentum * velocity[i] - lr * grad[i]
        velocity[i] = vi
        param[i] += vi


def _nesterov_ag(param, grad, velocity, momentum, lr, momentum2, step):
    for i in range(param.size):  # Chainer's order: v = m v - lr g; p += m^2 v; p -= (1 + m) lr g
        vi = momentum * velocity[i] - lr * grad[i]
        velocity[i] = vi
        pi = param[i] + momentum2 * vi
        param[i] = pi - step * grad[i]


_ADADELTA, _ADAM, _MOMENTUM_SGD, _NESTEROV_AG = map(
    _compile, (_adadelta, _adam, _momentum_sgd, _nesterov_ag))


def _fusable(*arrays, flat=False):
    """Float32 NumPy arrays (C-contiguous too, with flat: a compiled loop walks them flat)."""
    return all(type(a) is np.ndarray and a.dtype == np.float32
               and (a.flags.c_contiguous or not flat) for a in arrays)


def _flat(param, state):
    """Flat float32 views of a parameter, its gradient and its states, or None where the
    fused loop does not apply (not float32, not contiguous, not on the CPU, no gradient)."""
    arrays = (param.array, param.grad, *state)
    return [a.reshape(-1) for a in arrays] if _fusable(*arrays, flat=True) else None


def f32(value):
    return np.float32(value)


class FusedRule:
    """The part every fused update rule shares. update() is Chainer's UpdateRule.update
    without its per-parameter machinery (device context, hooks, loss scaling, fp32 copies,
    state initialisation) whenever none of it applies; then update_core_cpu runs the one
    loop. Anything else takes Chainer's own path, which ends in the same update_core_cpu."""
    STATE = ()  # the names of the state arrays the loop updates, in its order

    def fast(self):
        """Whether the loop covers these hyperparameters."""
        return True

    def update(self, param):
        flat = (self.enabled and self._state is not None and not self._use_fp32_update
                and param._loss_scale is None and not self._hookable._pre_update_hooks
                and not self._hookable._post_update_hooks and param.grad is not None
                and self.fast() and _flat(param, [self._state[k] for k in self.STATE]))
        if not flat:
            return super().update(param)
        self.t += 1
        self.loop(*flat)

    def update_core_cpu(self, param):
        flat = (param.grad is not None and self.fast()
                and _flat(param, [self.state[k] for k in self.STATE]))
        if not flat:
            return super().update_core_cpu(param)
        self.loop(*flat)


class AdaDeltaRule(FusedRule, optimizers.ada_delta.AdaDeltaRule):
    STATE = ('msg', 'msdx')

    def loop(self, *arrays):
        hp = self.hyperparam
        _ADADELTA(*arrays, f32(hp.rho), f32(1 - hp.rho), f32(hp.eps))


class AdamRule(FusedRule, optimizers.adam.AdamRule):
    STATE = ('m', 'v')

    def fast(self):
        hp = self.hyperparam
        return not (hp.amsgrad or hp.adabound or hp.weight_decay_rate)

    def loop(self, *arrays):
        hp = self.hyperparam
        self._check_eps(np.float32)
        _ADAM(*arrays, f32(1 - hp.beta1), f32(1 - hp.beta2), f32(self.alpha_t), f32(hp.eps),
              f32(hp.eta))


class MomentumSGDRule(FusedRule, optimizers.momentum_sgd.MomentumSGDRule):
    STATE = ('v',)

    def loop(self, *arrays):
        _MOMENTUM_SGD(*arrays, f32(self.hyperparam.momentum), f32(self.hyperparam.lr))


class NesterovAGRule(FusedRule, optimizers.nesterov_ag.NesterovAGRule):
    STATE = ('v',)

    def loop(self, *arrays):
        m, lr = self.hyperparam.momentum, self.hyperparam.lr
        _NESTEROV_AG(*arrays, f32(m), f32(lr), f32(m * m), f32((1 + m) * lr))


def _twin(stock, rule):
    """The fused twin of a stock optimizer: its subclass of the same name, whose parameters
    get `rule`."""
    return type(stock.__name__, (stock,), {'create_update_rule': lambda s: rule(s.hyperparam)})


AdaDelta, Adam, MomentumSGD, NesterovAG = (
    _twin(stock, rule) for stock, rule in (
        (optimizers.AdaDelta, AdaDeltaRule), (optimizers.Adam, AdamRule),
        (optimizers.MomentumSGD, MomentumSGDRule), (optimizers.NesterovAG, NesterovAGRule)))
FUSED = {fused.__base__: fused for fused in (AdaDelta, Adam, MomentumSGD, NesterovAG)}


def fused(optimizer):
    """A stock Chainer optimizer, not yet set up, turned into its fused twin in place (same
    object, same hyperparameters); any other optimizer is returned as it is."""
    twin = FUSED.get(type(optimizer))
    if twin is not None and getattr(optimizer, 'target', None) is None:
        optimizer.__class__ = twin
    return optimizer


# ---------------------------------------------------------------- linear + activation

def _sigmoid_finish(t):
    for i in range(t.size):
        t[i] = np.float32(1) / (np.float32(1) + t[i])


def _relu_bias(y, b):
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            v = y[i, j] + b[j]
            y[i, j] = v if v > 0 else np.float32(0)


_SIGMOID_FINISH, _RELU_BIAS = map(_compile, (_sigmoid_finish, _relu_bias))


def _sigmoid(y, b):
    """1 / (1 + exp(-(y + b))), in place: NumPy's float32 exp is vectorised, its tanh
    (Chainer's tanh(a/2)/2 + 1/2) is not. exp overflows to inf for y + b < -88, which gives
    the right 0."""
    np.subtract(-b, y, out=y)
    with np.errstate(over='ignore'):
        np.exp(y, out=y)
    _SIGMOID_FINISH(y.reshape(-1))
    return y


def _relu(y, b):
    _RELU_BIAS(y, b)
    return y


def _tanh(y, b):
    y += b
    return np.tanh(y, out=y)


def _identity(y, b):
    y += b
    return y


def _gradient(loop):
    """ga = loop(gy, y) elementwise, one compiled pass over flat float32 arrays."""
    compiled = numba.njit(cache=True, nogil=True, error_model='numpy')(loop)

    def gradient(gy, y):
        ga = np.empty_like(gy)
        compiled(gy.reshape(-1), y.reshape(-1), ga.reshape(-1))
        return ga
    return gradient


def _sigmoid_gradient(gy, y, ga):
    for i in range(gy.size):
        ga[i] = gy[i] * y[i] * (np.float32(1) - y[i])


def _tanh_gradient(gy, y, ga):
    for i in range(gy.size):
        ga[i] = gy[i] * (np.float32(1) - y[i] * y[i])


def _relu_gradient(gy, y, ga):
    for i in range(gy.size):
        ga[i] = gy[i] if y[i] > 0 else np.float32(0)


ACTIVATIONS = {  # name: (y = f(y + b) in place; the gradient at y + b from gy and f's output)
    'sigmoid': (_sigmoid, _gradient(_sigmoid_gradient)),
    'relu': (_relu, _gradient(_relu_gradient)),
    'tanh': (_tanh, _gradient(_tanh_gradient)),
    'identity': (_identity, lambda gy, y: gy),
}


class LinearActivation(chainer.function_node.FunctionNode):
    """y = f(x W^T + b), forward and backward by hand: one node instead of two (three with
    the bias), and no intermediate kept but the output."""

    def __init__(self, activation):
        self.activation = activation

    def forward_cpu(self, inputs):
        x, w, b = inputs
        self.retain_inputs((0, 1))
        self.retain_outputs((0,))
        return ACTIVATIONS[self.activation][0](x @ w.T, b),

    def backward(self, indexes, grad_outputs):
        x, w = self.get_retained_inputs()
        gy, y = grad_outputs[0].array, self.get_retained_outputs()[0].array
        if not gy.flags.c_contiguous:
            gy = np.ascontiguousarray(gy)
        ga = ACTIVATIONS[self.activation][1](gy, y)
        grads = {0: lambda: ga @ w.array, 1: lambda: ga.T @ x.array, 2: lambda: ga.sum(axis=0)}
        return tuple(chainer.Variable(grads[i]()) for i in indexes)


def compose(activate, link):
    """The function x -> activate(link(x)) for a Linear link with a bias, fused where it can be
    (float32 NumPy arrays and one of the four activations), composed otherwise."""
    name = getattr(activate, '__name__', None)

    def f_of_link(x):
        x_array = x.array if isinstance(x, chainer.Variable) else x
        if (name in ACTIVATIONS and getattr(F, name, None) is activate and link.b is not None
                and _fusable(x_array, link.W.array, link.b.array)):
            return LinearActivation(name).apply((x, link.W, link.b))[0]
        return activate(link(x))
    return f_of_link


class MeanSquaredError(chainer.function_node.FunctionNode):
    """mean((y - x)^2), keeping y - x for a backward of one node (Chainer's takes four)."""

    def forward_cpu(self, inputs):
        self.diff = (inputs[0] - inputs[1]).ravel()
        return np.array(self.diff.dot(self.diff) / self.diff.size, dtype=self.diff.dtype),

    def backward(self, indexes, grad_outputs):
        gy = grad_outputs[0].array
        g = (gy * self.diff).reshape(self.inputs[0].shape)
        g *= np.float32(2. / self.diff.size)
        return tuple(chainer.Variable(g if i == 0 else -g) for i in indexes)


def mean_squared_error(y, x):
    """F.mean_squared_error(y, x), fused for float32 NumPy arrays."""
    arrays = [v.array if isinstance(v, chainer.Variable) else v for v in (y, x)]
    if _fusable(*arrays) and arrays[0].shape == arrays[1].shape:
        return MeanSquaredError().apply((y, x))[0]
    return F.mean_squared_error(y, x)
