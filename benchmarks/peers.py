"""The peers of `make bench` (benchmarks/bench.py): the same model, loop and evaluation in
PyTorch, in JAX with optax (its step jitted, or its whole epoch one jitted lax.scan), and by hand
in plain NumPy. Each takes the training and test rows, the case (bench.CASES) and a seed, and
has train_epoch() and evaluate()."""
import numpy as np


def layer_shapes(n_inputs, sizes):
    """(inputs, outputs) of every link of the unrolled network, input to output."""
    widths = (n_inputs, *sizes, *sizes[-2::-1], n_inputs)
    return list(zip(widths, widths[1:]))


class PyTorch:
    """The same model, loop and evaluation, written as a PyTorch user would."""

    def __init__(self, train, test, case, seed=1):
        import torch
        self.torch, self.noise = torch, case['noise']
        torch.manual_seed(seed)
        act = {'relu': torch.nn.ReLU, 'sigmoid': torch.nn.Sigmoid}[case['activate']]
        shapes = layer_shapes(train.shape[1], case['sizes'])
        layers = []
        for i, (n_in, n_out) in enumerate(shapes, 1):
            layers += [torch.nn.Linear(n_in, n_out), act()]
            if i < len(shapes) and case['dropout']:
                layers.append(torch.nn.Dropout(case['dropout']))
        self.model = torch.nn.Sequential(*layers)
        if case['optimizer'] == 'AdaDelta':  # Chainer's defaults: rho .95, eps 1e-6, no rate
            self.optimizer = torch.optim.Adadelta(self.model.parameters(), lr=1.0, rho=.95, eps=1e-6)
        else:  # Adam with Chainer's defaults, which are PyTorch's
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-8)
        self.train, self.test = torch.from_numpy(train), torch.from_numpy(test)
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, batchsize):
        torch, x_all = self.torch, self.train
        self.model.train()
        order = torch.randperm(len(x_all), generator=self.generator)
        for i in range(0, len(order), batchsize):
            x = x_all[order[i:i + batchsize]]
            noisy = (x * (torch.rand(x.shape, generator=self.generator) >= self.noise)
                     if self.noise else x)
            loss = torch.nn.functional.mse_loss(self.model(noisy), x)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def evaluate(self, batchsize=10000):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            return [sum(float(((self.model(x[i:i + batchsize]) - x[i:i + batchsize]) ** 2).sum())
                        for i in range(0, len(x), batchsize)) / x.numel()
                    for x in (self.train, self.test)]


class JAX:
    """The same model, loop and evaluation in JAX with optax, as a JAX user would write it:
    the whole training step one jitted function (scan=False: called from a Python loop over
    the minibatches), or the whole epoch one jitted lax.scan over them (scan=True)."""

    def __init__(self, train, test, case, seed=1, scan=False):
        import jax
        import jax.numpy as jnp
        import optax
        self.jax, self.jnp, self.scan = jax, jnp, scan
        act = {'relu': jax.nn.relu, 'sigmoid': jax.nn.sigmoid}[case['activate']]
        noise, dropout = case['noise'], case['dropout']
        key = jax.random.key(seed)
        params = []
        for n_in, n_out in layer_shapes(train.shape[1], case['sizes']):  # LeCun normal, bias 0
            key, sub = jax.random.split(key)
            params.append((jax.random.normal(sub, (n_in, n_out), jnp.float32) / np.sqrt(n_in),
                           jnp.zeros(n_out, jnp.float32)))
        self.optimizer = (optax.adadelta(1.0, rho=.95, eps=1e-6) if case['optimizer'] == 'AdaDelta'
                          else optax.adam(1e-3, eps=1e-8))  # Chainer's defaults
        self.state = (params, self.optimizer.init(params), key)
        self.train, self.test = jnp.asarray(train), jnp.asarray(test)

        def forward(params, x, key=None):  # key: training (dropout); None: eval mode
            for i, (w, b) in enumerate(params, 1):
                x = act(x @ w + b)
                if key is not None and dropout and i < len(params):
                    key, sub = jax.random.split(key)
                    x = x * jax.random.bernoulli(sub, 1 - dropout, x.shape) / (1 - dropout)
            return x

        def loss(params, x, key):
            k_noise, k_drop = jax.random.split(key)
            noisy = x * jax.random.bernoulli(k_noise, 1 - noise, x.shape) if noise else x
            return jnp.mean((forward(params, noisy, k_drop) - x) ** 2)

        def step(state, index):
            params, opt_state, key = state
            key, sub = jax.random.split(key)
            grads = jax.grad(loss)(params, self.train[index], sub)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, key), None

        def epoch(state, batches):
            return jax.lax.scan(step, state, batches)[0]

        self.step = jax.jit(lambda state, index: step(state, index)[0], donate_argnums=0)
        self.epoch_fn = jax.jit(epoch, donate_argnums=0)
        self.error = jax.jit(lambda params, x: jnp.sum((forward(params, x) - x) ** 2))
        self.rng = np.random.default_rng(seed)

    def epoch(self, batchsize):
        order = self.rng.permutation(len(self.train))
        if self.scan:
            n = len(order) // batchsize * batchsize
            self.state = self.epoch_fn(self.state, order[:n].reshape(-1, batchsize))
        else:
            for i in range(0, len(order), batchsize):
                self.state = self.step(self.state, order[i:i + batchsize])
        self.jax.block_until_ready(self.state)

    def evaluate(self, batchsize=2500):
        params = self.state[0]
        return [sum(float(self.error(params, x[i:i + batchsize]))
                    for i in range(0, len(x), batchsize)) / x.size for x in (self.train, self.test)]


class PlainNumPy:
    """The same step by hand in NumPy, no framework: what Chainer's NumPy backend could reach."""

    def __init__(self, train, test, case, seed=1):
        self.rng = np.random.default_rng(seed)
        n, k = train.shape[1], case['sizes'][0]
        self.train, self.relu = train, case['activate'] == 'relu'
        self.noise, self.dropout = case['noise'], case['dropout']
        self.params = [self.rng.standard_normal((k, n), dtype=np.float32) / np.sqrt(n),
                       np.zeros(k, np.float32),
                       self.rng.standard_normal((n, k), dtype=np.float32) / np.sqrt(k),
                       np.zeros(n, np.float32)]
        self.msg = [np.zeros_like(p) for p in self.params]
        self.msdx = [np.zeros_like(p) for p in self.params]

    def act(self, a):  # the activation and its derivative as a function of its output
        if self.relu:
            y = np.maximum(a, 0)
            return y, y > 0
        y = 1 / (1 + np.exp(-a))
        return y, y * (1 - y)

    def epoch(self, batchsize):
        w1, b1, w2, b2 = self.params
        order = self.rng.permutation(len(self.train))
        for i in range(0, len(order), batchsize):
            x = self.train[order[i:i + batchsize]]
            noisy = x * (self.rng.random(x.shape, dtype=np.float32) >= self.noise)
            h, dh = self.act(noisy @ w1.T + b1)
            mask = ((self.rng.random(h.shape, dtype=np.float32) >= self.dropout)
                    / np.float32(1 - self.dropout))
            hd = h * mask
            y, dy = self.act(hd @ w2.T + b2)
            gy = (y - x) * np.float32(2 / x.size) * dy
            gh = (gy @ w2) * mask * dh
            for p, g, msg, msdx in zip(self.params, (gh.T @ noisy, gh.sum(0), gy.T @ hd, gy.sum(0)),
                                       self.msg, self.msdx):  # AdaDelta, as Chainer's
                msg *= .95
                msg += .05 * g * g
                dx = np.sqrt((msdx + 1e-6) / (msg + 1e-6)) * g
                msdx *= .95
                msdx += .05 * dx * dx
                p -= dx
