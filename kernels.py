"""Fused kernels: Chainer's own mathematics in fewer passes over memory, on the CPU.

Nothing here changes what a run computes; it changes how many times the arrays are walked.

Update rules  AdaDelta, Adam, SGD and MomentumSGD: subclasses of Chainer's optimizers whose
              CPU update is one compiled loop per parameter (numba) instead of a dozen NumPy
              passes with temporaries. Same hyperparameter and state names (snapshots load
              either way), same results within float32 rounding; the GPU path and every
              option the loop does not cover (AMSGrad, AdaBound, weight decay, float16) fall
              back to Chainer's own code. fused() swaps a stock optimizer for its fused twin.
linear_activation(x, link, f)
              y = f(x W^T + b) as one FunctionNode with a hand-written backward, for f in
              sigmoid, relu, tanh, identity (any other f: the composed F.linear and f).
              Not differentiable twice.
"""
import chainer
import chainer.functions as F
import numba
import numpy as np
from chainer import optimizers

# Above this many values a loop is split between the cores; below it threads cost more
# than they save.
PARALLEL_SIZE = 1 << 16


def _compile(loop):
    """A serial and a parallel build of one elementwise loop over flat float32 arrays."""
    serial = numba.njit(cache=True, nogil=True)(loop)
    parallel = numba.njit(cache=True, nogil=True, parallel=True)(loop)
    return lambda n: parallel if n >= PARALLEL_SIZE else serial


def _adadelta(param, grad, msg, msdx, rho, one_minus_rho, eps):
    for i in numba.prange(param.size):
        g = grad[i]
        s = msg[i] * rho + one_minus_rho * g * g
        msg[i] = s
        dx = np.sqrt((msdx[i] + eps) / (s + eps)) * g
        msdx[i] = msdx[i] * rho + one_minus_rho * dx * dx
        param[i] -= dx


def _adam(param, grad, m, v, one_minus_beta1, one_minus_beta2, alpha_t, eps, eta):
    for i in numba.prange(param.size):
        g = grad[i]
        mi = m[i] + one_minus_beta1 * (g - m[i])
        vi = v[i] + one_minus_beta2 * (g * g - v[i])
        m[i] = mi
        v[i] = vi
        param[i] += -eta * (alpha_t / (np.sqrt(vi) + eps) * mi)


def _momentum_sgd(param, grad, velocity, momentum, lr):
    for i in numba.prange(param.size):
        vi = momentum * velocity[i] - lr * grad[i]
        velocity[i] = vi
        param[i] += vi


def _sgd(param, grad, lr):
    for i in numba.prange(param.size):
        param[i] -= lr * grad[i]


_ADADELTA, _ADAM, _MOMENTUM_SGD, _SGD = map(_compile, (_adadelta, _adam, _momentum_sgd, _sgd))


def _flat(param, *arrays):
    """Flat float32 views of a parameter, its gradient and its states, or None where the
    fused loop does not apply (not float32, not contiguous, not on the CPU)."""
    arrays = (param.array, param.grad, *arrays)
    if all(type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous
           for a in arrays):
        return [a.reshape(-1) for a in arrays]
    return None


def f32(value):
    return np.float32(value)


class AdaDeltaRule(optimizers.ada_delta.AdaDeltaRule):
    def update_core_cpu(self, param):
        flat = param.grad is not None and _flat(param, self.state['msg'], self.state['msdx'])
        if not flat:
            return super().update_core_cpu(param)
        hp = self.hyperparam
        _ADADELTA(flat[0].size)(*flat, f32(hp.rho), f32(1 - hp.rho), f32(hp.eps))


class AdamRule(optimizers.adam.AdamRule):
    def update_core_cpu(self, param):
        hp = self.hyperparam
        flat = (param.grad is not None and not (hp.amsgrad or hp.adabound or hp.weight_decay_rate)
                and _flat(param, self.state['m'], self.state['v']))
        if not flat:
            return super().update_core_cpu(param)
        self._check_eps(np.float32)
        _ADAM(flat[0].size)(*flat, f32(1 - hp.beta1), f32(1 - hp.beta2), f32(self.alpha_t),
                            f32(hp.eps), f32(hp.eta))


class MomentumSGDRule(optimizers.momentum_sgd.MomentumSGDRule):
    def update_core_cpu(self, param):
        flat = param.grad is not None and _flat(param, self.state['v'])
        if not flat:
            return super().update_core_cpu(param)
        _MOMENTUM_SGD(flat[0].size)(*flat, f32(self.hyperparam.momentum), f32(self.hyperparam.lr))


class SGDRule(optimizers.sgd.SGDRule):
    def update_core_cpu(self, param):
        flat = param.grad is not None and _flat(param)
        if not flat:
            return super().update_core_cpu(param)
        _SGD(flat[0].size)(*flat, f32(self.hyperparam.lr))


class AdaDelta(optimizers.AdaDelta):
    def create_update_rule(self):
        return AdaDeltaRule(self.hyperparam)


class Adam(optimizers.Adam):
    def create_update_rule(self):
        return AdamRule(self.hyperparam)


class MomentumSGD(optimizers.MomentumSGD):
    def create_update_rule(self):
        return MomentumSGDRule(self.hyperparam)


class SGD(optimizers.SGD):
    def create_update_rule(self):
        return SGDRule(self.hyperparam)


FUSED = {stock: fused for fused in (AdaDelta, Adam, MomentumSGD, SGD) for stock in fused.__bases__}


def fused(optimizer):
    """A stock Chainer optimizer, not yet set up, turned into its fused twin in place (same
    object, same hyperparameters); any other optimizer is returned as it is."""
    twin = FUSED.get(type(optimizer))
    if twin is not None and getattr(optimizer, 'target', None) is None:
        optimizer.__class__ = twin
    return optimizer


# ---------------------------------------------------------------- linear + activation

def _sigmoid(a):  # as Chainer computes it: tanh(a / 2) / 2 + 1/2, no overflow
    a *= .5
    np.tanh(a, out=a)
    a *= .5
    a += .5
    return a


ACTIVATIONS = {  # name: (f, in place on a; the gradient at a from gy and y = f(a)), as Chainer
    'sigmoid': (_sigmoid, lambda gy, y: gy * y * (1. - y)),
    'relu': (lambda a: np.maximum(a, 0, out=a), lambda gy, y: gy * (y > 0)),
    'tanh': (lambda a: np.tanh(a, out=a), lambda gy, y: gy * (1. - y * y)),
    'identity': (lambda a: a, lambda gy, y: gy),
}


class LinearActivation(chainer.function_node.FunctionNode):
    """y = f(x W^T + b), forward and backward by hand: one node instead of two (three with
    the bias), and no intermediate kept but the output."""

    def __init__(self, activation):
        self.activation = activation

    def forward_cpu(self, inputs):
        x, w, b = inputs
        y = x @ w.T
        y += b
        self.retain_inputs((0, 1))
        self.retain_outputs((0,))
        return ACTIVATIONS[self.activation][0](y),

    def backward(self, indexes, grad_outputs):
        x, w = self.get_retained_inputs()
        gy = grad_outputs[0].array
        ga = ACTIVATIONS[self.activation][1](gy, self.get_retained_outputs()[0].array)
        grads = {0: lambda: ga @ w.array, 1: lambda: ga.T @ x.array, 2: lambda: ga.sum(axis=0)}
        return tuple(chainer.Variable(grads[i]()) for i in indexes)


def linear_activation(x, link, activate):
    """activate(link(x)) for a Linear link with a bias, fused where it can be (float32 NumPy
    arrays and one of the four activations), composed otherwise."""
    name = getattr(activate, '__name__', None)
    x_array = x.array if isinstance(x, chainer.Variable) else x
    if (name in ACTIVATIONS and getattr(F, name, None) is activate and link.b is not None
            and type(x_array) is np.ndarray and x_array.dtype == np.float32
            and type(link.W.array) is np.ndarray):
        return LinearActivation(name).apply((x, link.W, link.b))[0]
    return activate(link(x))
