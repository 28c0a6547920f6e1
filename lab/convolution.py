"""Convolutions that cost one matrix product each, on the CPU (conv_autoencoder.py's links).

Chainer's CPU convolution unfolds its input with im2col into a 6-D array (N, C, KH, KW, OH, OW)
and multiplies it by the kernels with tensordot, which copies both operands into the order a
matrix product needs; the weight gradient unfolds the input again, and the transposed
convolution folds back with col2im's strided adds. Here the unfolding writes the matrix the
product needs at once, one row an output position, one column a (channel, kernel row, kernel
column): for an input x (N, C, H, W), kernels W (OC, C, KH, KW), stride s, padding p,

    col[(n, i, j), (c, u, v)] = x[n, c, s i + u - p, s j + v - p]     (0 outside the image)
    y = col W^T + b                       a convolution: (N OH OW, OC), then NCHW
    dW = gy^T col,  db = sum gy,  dx = fold(gy W)                      its gradients

and the transposed convolution is the same two maps the other way round: y = fold(x W) + b, its
input gradient unfold(gy) W^T, its weight gradient x^T unfold(gy) (W: (IC, OC, KH, KW), as
Chainer's Deconvolution2D holds it). `fold` adds each row's values back where unfold took them.
The unfolding keeps its columns for the backward pass, so it is done once a step.

Convolution2D and Deconvolution2D are Chainer's links (the same parameters, names, layouts and
snapshots) whose forward takes this path for float32 NumPy arrays with one group and no
dilation, and Chainer's own functions everywhere else (a GPU, float64, other settings). The
nodes are not differentiable twice.
"""
import chainer
import chainer.links as L
import numba
import numpy as np


U = np.uint64  # the loops' indices: with signed ones LLVM keeps a check that stops it
              # vectorising the copies (several times slower)


@numba.njit(cache=True, nogil=True, error_model='numpy')
def unfold(padded, kh, kw, sy, sx, oh, ow):
    """col[(n, i, j), (u, v, c)] = padded[n, sy i + u, sx j + v, c] of a padded NHWC array: for
    each output position and kernel row, one contiguous run of kw C values copied."""
    n, h, w, c = padded.shape
    col = np.empty((n * oh * ow, kh * kw * c), padded.dtype)
    src, dst = padded.reshape(-1), col.reshape(-1)
    run, line, image, width = U(kw * c), U(w * c), U(h * w * c), U(kh * kw * c)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                row = U((b * oh + i) * ow + j)
                for u in range(kh):
                    start = U(b) * image + U(sy * i + u) * line + U(sx * j * c)
                    at = row * width + U(u) * run
                    for v in range(run):
                        dst[at + v] = src[start + v]
    return col


@numba.njit(cache=True, nogil=True, error_model='numpy')
def fold(col, n, h, w, c, kh, kw, sy, sx, oh, ow):
    """The adjoint of unfold: a padded NHWC array (n, h, w, c) where each run of col is added
    back where unfold took it."""
    padded = np.zeros((n, h, w, c), col.dtype)
    src, dst = col.reshape(-1), padded.reshape(-1)
    run, line, image, width = U(kw * c), U(w * c), U(h * w * c), U(kh * kw * c)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                row = U((b * oh + i) * ow + j)
                for u in range(kh):
                    at = U(b) * image + U(sy * i + u) * line + U(sx * j * c)
                    start = row * width + U(u) * run
                    for v in range(run):
                        dst[at + v] += src[start + v]
    return padded


def padded(x, ph, pw):
    """The NHWC copy of an NCHW-shaped array (whatever its memory order), padded with zeros."""
    n, c, h, w = x.shape
    out = np.zeros((n, h + 2 * ph, w + 2 * pw, c), x.dtype)
    out[:, ph:ph + h, pw:pw + w] = x.transpose(0, 2, 3, 1)
    return out


def cropped(nhwc, ph, pw):
    """A padded NHWC array without its padding, as an NCHW-shaped view of NHWC memory."""
    h, w = nhwc.shape[1] - 2 * ph, nhwc.shape[2] - 2 * pw
    return np.ascontiguousarray(nhwc[:, ph:ph + h, pw:pw + w]).transpose(0, 3, 1, 2)


def rows(a):
    """An NCHW-shaped array as (N H W, C), one row a position (no copy if its memory is NHWC)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).reshape(-1, a.shape[1])


def images(m, n, h, w):
    """(N H W, C) rows as an NCHW-shaped view of their NHWC memory: the next convolution reads
    it without a copy, and Chainer's elementwise functions keep its order."""
    return m.reshape(n, h, w, -1).transpose(0, 3, 1, 2)


def kernels(W):
    """(A, B, KH, KW) -> (A, KH KW B): the columns in unfold's order."""
    return np.ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(len(W), -1)


def weights(m, shape):
    """The inverse of kernels: (A, KH KW B) -> (A, B, KH, KW), contiguous."""
    a, b, kh, kw = shape
    return np.ascontiguousarray(m.reshape(a, kh, kw, b).transpose(0, 3, 1, 2))


def bias_gradient(g):
    """The sum of the rows of g, as a BLAS product (faster than g.sum(0) here)."""
    return np.ones(len(g), g.dtype) @ g


class Convolution(chainer.function_node.FunctionNode):
    """A strided, padded 2-D convolution of NCHW-shaped float32 NumPy arrays:
    y = unfold(x) W^T + b."""

    def __init__(self, stride, pad):
        (self.sy, self.sx), (self.ph, self.pw) = stride, pad

    def forward_cpu(self, inputs):
        x, W = inputs[:2]
        self.retain_inputs((1,))
        n, _, h, w = self.shape = x.shape
        _, _, kh, kw = W.shape
        self.oh = (h + 2 * self.ph - kh) // self.sy + 1
        self.ow = (w + 2 * self.pw - kw) // self.sx + 1
        self.col = unfold(padded(x, self.ph, self.pw), kh, kw, self.sy, self.sx, self.oh, self.ow)
        y = self.col @ kernels(W).T
        if len(inputs) == 3:
            y += inputs[2]
        return images(y, n, self.oh, self.ow),

    def backward(self, indexes, grad_outputs):
        W, gy = self.get_retained_inputs()[0].array, rows(grad_outputs[0].array)
        n, c, h, w = self.shape
        _, _, kh, kw = W.shape
        grads = {}
        if 0 in indexes:
            grads[0] = cropped(fold(gy @ kernels(W), n, h + 2 * self.ph, w + 2 * self.pw, c, kh,
                                    kw, self.sy, self.sx, self.oh, self.ow), self.ph, self.pw)
        if 1 in indexes:
            grads[1] = weights(gy.T @ self.col, W.shape)
        if 2 in indexes:
            grads[2] = bias_gradient(gy)
        return tuple(chainer.Variable(grads[i]) for i in indexes)


class Deconvolution(chainer.function_node.FunctionNode):
    """The transposed convolution of NCHW-shaped float32 NumPy arrays: y = fold(x W) + b, W of
    shape (IC, OC, KH, KW), the output (s (H - 1) + KH - 2 p) high and wide."""

    def __init__(self, stride, pad):
        (self.sy, self.sx), (self.ph, self.pw) = stride, pad

    def forward_cpu(self, inputs):
        x, W = inputs[:2]
        self.retain_inputs((1,))
        n, _, h, w = self.shape = x.shape
        _, oc, kh, kw = W.shape
        self.x = rows(x)
        y = cropped(fold(self.x @ kernels(W), n, self.sy * (h - 1) + kh,
                         self.sx * (w - 1) + kw, oc, kh, kw, self.sy, self.sx, h, w),
                    self.ph, self.pw)
        if len(inputs) == 3:
            y += inputs[2][:, None, None]
        return y,

    def backward(self, indexes, grad_outputs):
        W, gy = self.get_retained_inputs()[0].array, grad_outputs[0].array
        n, _, h, w = self.shape
        _, _, kh, kw = W.shape
        col = unfold(padded(gy, self.ph, self.pw), kh, kw, self.sy, self.sx, h, w)
        grads = {}
        if 0 in indexes:
            grads[0] = images(col @ kernels(W).T, n, h, w)
        if 1 in indexes:
            grads[1] = weights(self.x.T @ col, W.shape)
        if 2 in indexes:
            grads[2] = bias_gradient(rows(gy))
        return tuple(chainer.Variable(grads[i]) for i in indexes)


enabled = True  # False: Chainer's own functions everywhere (benchmarks/conv_bench.py's stock row)


def applies(link, x):
    """Whether the path applies: float32 NumPy arrays, one group, no dilation."""
    x = x.array if isinstance(x, chainer.Variable) else x
    return (enabled and isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 4
            and link.W.array is not None and link.W.dtype == np.float32
            and link.groups == 1 and link.dilate == (1, 1))


class Convolution2D(L.Convolution2D):
    """chainer.links.Convolution2D, computed by Convolution where that applies."""

    def forward(self, x):
        if not applies(self, x):
            return super().forward(x)
        inputs = (x, self.W) if self.b is None else (x, self.W, self.b)
        return Convolution(self.stride, self.pad).apply(inputs)[0]


class Deconvolution2D(L.Deconvolution2D):
    """chainer.links.Deconvolution2D, computed by Deconvolution where that applies (no
    outsize given)."""

    def forward(self, x):
        if not applies(self, x) or self.outsize not in (None, (None, None)):
            return super().forward(x)
        inputs = (x, self.W) if self.b is None else (x, self.W, self.b)
        return Deconvolution(self.stride, self.pad).apply(inputs)[0]
