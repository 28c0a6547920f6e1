"""What Chainer computes for the scripts, three updates at a time: a record to compare stacks.

record() trains every configuration the scripts use for three minibatch updates on fixed data
and returns {name: array}: the initial weights (the initializers), the losses, the gradients of
the last update and the weights after it, the eval-mode MSEs, for
  - the fused path of the scripts: each activation, each optimizer, both losses, tied weights,
    WeightDecay, the momentum schedule, the deep autoencoder's pretraining and fine-tuning, and a
    snapshot saved after one update and resumed for two (npz serializers);
  - Chainer's own functions and optimizers, composed by hand (Linear, sigmoid, relu, tanh,
    dropout, mean_squared_error, bernoulli_nll, transpose, every chainer.optimizers class,
    WeightDecay), which the scripts fall back to off the CPU.

    python tests/numerics.py PATH      write the record (tests/numerics_numpy1.npz was written
                                       so, on NumPy 1.26.4, before the move to NumPy 2)

tests/test_numerics.py compares a new stack's record with that file.
"""
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

N, N_INPUTS, BATCH = 300, 64, 100  # three updates an epoch


def data():
    """Fixed inputs in [0, 1], from integers (no generator, so no stream can differ)."""
    i = np.arange(N * N_INPUTS, dtype=np.int64).reshape(N, N_INPUTS)
    x = ((i * 2654435761) % 1000003 % 17) / np.float32(16)
    x = x.astype(np.float32)
    return [x[:200], x[200:]]


def arrays_of(prefix, trainer, out):
    model = trainer.model
    out[f'{prefix}/train_mse'] = np.array(trainer.loss_values, np.float64)
    out[f'{prefix}/test_mse'] = np.array(trainer.test_loss_values, np.float64)
    for path, param in sorted(model.namedparams()):
        out[f'{prefix}/param{path}'] = np.array(param.array)
        if param.grad is not None:
            out[f'{prefix}/grad{path}'] = np.array(param.grad)


def autoencoder_configs():
    from lab.options import ACTIVATIONS
    base = dict(activate='sigmoid', optimizer='Adam', loss='mse', tied=False, dropout_ratio=.1,
                corruption_ratio=.3, weight_decay=0., momentum_max=None, lr=None)
    configs = {f'activate={f}': dict(base, activate=f) for f in sorted(ACTIVATIONS)}
    configs.update({f'optimizer={o}': dict(base, optimizer=o)  # the fused ones, and SGD
                    for o in ('AdaDelta', 'Adam', 'MomentumSGD', 'NesterovAG', 'SGD')})
    configs['loss=bce'] = dict(base, loss='bce')
    configs['tied'] = dict(base, tied=True, activate='identity')
    configs['weight_decay'] = dict(base, weight_decay=1e-3)
    configs['momentum_max'] = dict(base, optimizer='NesterovAG', momentum_max=.99, lr=.1)
    return configs


def train_autoencoder(c, seed=1):
    import autoencoder as ae
    model = ae.AutoEncoder(N_INPUTS, 16, dropout_ratio=c['dropout_ratio'], activate=c['activate'],
                           tied=c['tied'], seed=seed,
                           output_activate='sigmoid' if c['loss'] == 'bce' else None)
    return ae.Train_AutoEncoder(data(), model, corruption_ratio=c['corruption_ratio'], rng=seed,
                                optimizer=ae.get_optimizer(c['optimizer'], c['lr']),
                                loss=c['loss'], weight_decay=c['weight_decay'],
                                momentum_max=c['momentum_max'])


def scripts(out):
    import chainer
    import deep_autoencoder as da
    for name, c in autoencoder_configs().items():
        trainer = train_autoencoder(c)
        for path, param in sorted(trainer.model.namedparams()):
            out[f'autoencoder {name}/initial{path}'] = np.array(param.array)
        trainer.start(1, BATCH, log=None)
        arrays_of(f'autoencoder {name}', trainer, out)

    # A snapshot after one update, resumed into a new trainer for the other two.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'snapshot.npz')
        first = train_autoencoder(autoencoder_configs()['activate=relu'])
        first.order, first.position = first.rng.permutation(len(first.train)), 0
        with chainer.using_config('train', True):  # one update, as train_epoch makes it
            x = first.train[first.order[:BATCH]]
            loss = first.reconstruction_loss(x)
            first.model.cleargrads()
            loss.backward()
            first.optimizer.update()
        first.position = BATCH
        chainer.serializers.save_npz(path, first)
        resumed = train_autoencoder(autoencoder_configs()['activate=relu'], seed=5)
        chainer.serializers.load_npz(path, resumed)
    resumed.start(1, BATCH, log=None)
    arrays_of('autoencoder resumed', resumed, out)

    for init in da.INITS:  # pretraining (2 layers) then fine-tuning, 3 updates each
        model = da.DAE(N_INPUTS, (32, 8), activate='sigmoid', dropout_ratio=.1, seed=71, init=init,
                       code_activate='identity', output_activate='sigmoid')
        for path, param in sorted(model.namedparams()):
            out[f'deep init={init}/initial{path}'] = np.array(param.array)
        trainer = da.Train_DAE(data(), model, corruption_ratio=.3, rng=71, loss='bce',
                               pretrain_corruption_ratio=.2, weight_decay=1e-4)
        trainer.pre_training(1, BATCH, log=None)
        for i, t in enumerate(trainer.pretrainers, 1):
            arrays_of(f'deep init={init}/pretrain{i}', t, out)
        trainer.fine_tuning(1, BATCH, log=None)
        arrays_of(f'deep init={init}/finetune', trainer, out)


def chainer_own(out):
    """Chainer's functions and optimizers as a user composes them, three updates each."""
    import chainer
    import chainer.functions as F
    import chainer.links as L
    from chainer import initializers, optimizers
    x_all = np.concatenate(data())

    class Net(chainer.Chain):
        def __init__(self, f):
            super().__init__()
            self.f = f
            rng = np.random.RandomState(0)  # Chainer's own initializers take a RandomState
            with self.init_scope():
                self.enc = L.Linear(N_INPUTS, 16, initialW=initializers.LeCunNormal(rng=rng))
                self.dec_b = chainer.Parameter(initializers.Zero(), (N_INPUTS,))

        def forward(self, x, mask):
            h = F.dropout(self.f(self.enc(x)), .1, mask=mask)
            return F.linear(h, F.transpose(self.enc.W), self.dec_b)  # tied

    masks = [(np.arange(BATCH * 16).reshape(BATCH, 16) * 7919 + k) % 10 >= 1 for k in range(3)]
    masks = [m.astype(np.float32) / np.float32(.9) for m in masks]
    cases = [(f'function={f.__name__}', f, optimizers.Adam) for f in (F.sigmoid, F.relu, F.tanh)]
    cases += [(f'optimizer={name}', F.sigmoid, cls)
              for name, cls in sorted(vars(optimizers).items())
              if isinstance(cls, type) and issubclass(cls, chainer.Optimizer)]
    for name, f, cls in cases:
        model = Net(f)
        optimizer = cls()
        optimizer.setup(model)
        optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(1e-4))
        losses = []
        for k in range(3):
            x = x_all[k * BATCH:(k + 1) * BATCH]
            y = model(x, masks[k])
            loss = (F.mean_squared_error(y, x) if k != 1 else
                    F.bernoulli_nll(x, y, reduce='sum') / x.size)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            losses.append(float(loss.array))
        out[f'chainer {name}/losses'] = np.array(losses)
        for path, param in sorted(model.namedparams()):
            out[f'chainer {name}/param{path}'] = np.array(param.array)
            out[f'chainer {name}/grad{path}'] = np.array(param.grad)


def record():
    from threadpoolctl import threadpool_limits
    out = {}
    with threadpool_limits(1):
        scripts(out)
        chainer_own(out)
    return out


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(f'usage: python {sys.argv[0]} PATH')
    import chainer
    values = record()
    values['versions'] = np.array(f'numpy {np.__version__}, chainer {chainer.__version__}, '
                                  f'python {sys.version.split()[0]}')
    np.savez_compressed(sys.argv[1], **values)
    print(f'wrote {len(values) - 1} arrays to {sys.argv[1]} ({values["versions"]})')
