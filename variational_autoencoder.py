"""A variational autoencoder in Chainer 7 (Kingma & Welling, ICLR 2014), beside the post's two.

An autoencoder's code is a point; a VAE's is a distribution. For an image x in [0, 1]^n:

    q(z | x) = N(z; mu(x), diag sigma^2(x))   the encoder: h = f(W1 x + b1),
                                              mu = W_mu h + b_mu, log sigma^2 = W_v h + b_v
    p(z)     = N(0, I)                        the prior over codes of n_latent values
    p(x | z) = prod_i y_i^x_i (1 - y_i)^(1 - x_i),  y = sigmoid(W4 f(W3 z + b3) + b4)
                                              the decoder: a Bernoulli per pixel

It maximises the evidence lower bound (ELBO) of each image's log-likelihood:

    log p(x) >= ELBO(x) = E_q(z|x)[log p(x | z)] - KL(q(z | x) || p(z))

The expectation is estimated with one sample per image, drawn by the reparameterisation
z = mu + sigma * eps, eps ~ N(0, I): the noise comes from outside, so the sample is a
differentiable function of mu and sigma and the gradient flows through it. The KL term of two
Gaussians is exact:

    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)

The loss of an image is -ELBO = sum_i [-x_i log y_i - (1 - x_i) log(1 - y_i)] + beta KL
(beta = 1: the ELBO itself; beta != 1: Higgins et al.'s beta-VAE, ICLR 2017). MNIST's pixels
are grey levels in [0, 1], not bits: the Bernoulli term is then a cross-entropy whose best value
for a grey pixel x_i is at y_i = x_i and is -H(x_i), not 0, so the ELBO here is not the bound of
a probability over images, and compares only models of the same pixels (as Chainer's example
and Kingma & Welling's MNIST runs, on the same grey levels).

The ELBO printed and recorded every epoch is evaluated in eval mode with fixed noise: eps drawn
by a generator seeded 0 at each evaluation, one sample per image, so that the same model gets
the same number. The MSE beside it, for the tables the other scripts fill, is that of the
reconstruction from the mean code, decode(mu). With a 2-D latent space the script draws the
manifold as Kingma & Welling's Figure 4 did: the decoded 20 x 20 grid of codes at the Gaussian's
quantiles.
"""
import json
import statistics

import lab.compat  # noqa: F401  (before Chainer: what it needs of NumPy 2, Python 3.12+)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers, optimizers

import autoencoder
from lab import cli
from lab.kernels import compose
from lab.options import check_int, get_activation, get_optimizer, make_rng
from lab.run import Pixels, Run, inference
from lab.trainer import bytes_needed
from utils import load_mnist, save_images, save_loss_curves


class VAE(chainer.Chain):
    """An encoder to the mean and log-variance of q(z | x), a decoder from z to the pixels'
    Bernoulli means: n_inputs -> n_hidden -> 2 x n_latent, n_latent -> n_hidden -> n_inputs,
    `activate` the hidden layers' f. `seed` fixes the initial weights (a local generator)."""

    def __init__(self, n_inputs=784, n_hidden=500, n_latent=20, activate='tanh', seed=0):
        super().__init__()
        self.n_inputs = check_int('n_inputs', n_inputs)
        self.n_hidden, self.n_latent = check_int('n_hidden', n_hidden), check_int(
            'n_latent', n_latent)
        self.activate = get_activation(activate)
        self.output_activate = F.sigmoid  # the Bernoulli means
        self.rng = make_rng('seed', seed)
        w = lambda: initializers.LeCunNormal(rng=self.rng)  # noqa: E731
        with self.init_scope():
            self.encoder = L.Linear(n_inputs, n_hidden, initialW=w())
            self.mu = L.Linear(n_hidden, n_latent, initialW=w())
            self.ln_var = L.Linear(n_hidden, n_latent, initialW=w())
            self.hidden = L.Linear(n_latent, n_hidden, initialW=w())
            self.decoder = L.Linear(n_hidden, n_inputs, initialW=w())

    def encode(self, x):
        """q(z | x): its mean mu and log-variance log sigma^2."""
        h = compose(self.activate, self.encoder)(x)
        return self.mu(h), self.ln_var(h)

    def decode(self, z, logits=False):
        """y = sigmoid(W4 f(W3 z + b3) + b4), the pixels' Bernoulli means; logits=True: before
        the sigmoid."""
        y = self.decoder(compose(self.activate, self.hidden)(z))
        return y if logits else F.sigmoid(y)

    def forward(self, x, hidden=False, logits=False):
        """The mean code mu (hidden=True), or its reconstruction decode(mu)."""
        mu, _ = self.encode(x)
        return mu if hidden else self.decode(mu, logits)

    def to_string(self):
        return (f'_nhidden={self.n_hidden}_nlatent={self.n_latent}'
                f'_activate={self.activate.__name__}')

    def weight_pictures(self, grid=20):
        """{file suffix: rows to tile}: the encoder's filters (rows of W1), 100 images drawn
        from the model (decode(z), z ~ p(z), seed 0) and, for a 2-D code, the manifold: decode
        over a grid x grid lattice of codes at the Gaussian's quantiles (z1 left to right, z2
        top to bottom)."""
        z = np.random.default_rng(0).standard_normal((100, self.n_latent), dtype=np.float32)
        pictures = {'enc.png': self.encoder.W.array,
                    'samples.png': Pixels(inference(self.decode, self.xp.asarray(z)))}
        if self.n_latent == 2:
            q = [statistics.NormalDist().inv_cdf((i + .5) / grid) for i in range(grid)]
            lattice = np.array([(z1, z2) for z2 in q[::-1] for z1 in q], np.float32)
            pictures['manifold.png'] = Pixels(inference(self.decode, self.xp.asarray(lattice)))
        return pictures


class Train_VAE(autoencoder.Train_AutoEncoder):
    """Trains `model` (a VAE) to maximise the ELBO, by Train_AutoEncoder's loop (shuffles,
    minibatches, the optimizer and its schedule, the eval-mode MSE, snapshots), with no masking
    noise: the reparameterisation's eps is drawn from the trainer's generator, so a run resumed
    from a snapshot draws what an uninterrupted one does. `beta` weighs the KL term in training.
    Every epoch, the ELBO per image in nats of the train and test sets: elbo_values,
    test_elbo_values."""

    def __init__(self, tt_data, model, rng=1, optimizer=optimizers.Adam, device=None, comm=None,
                 lr_decay=1., weight_decay=0., beta=1.):
        super().__init__(tt_data, model, 0, rng, optimizer, device, comm, 'bce', lr_decay,
                         weight_decay)
        self.beta = beta
        self.elbo_values, self.test_elbo_values = [], []

    def negative_elbo(self, x, eps, beta=1.):
        """-ELBO per image of the minibatch x, one sample z = mu + sigma * eps an image."""
        mu, ln_var = self.model.encode(x)
        y = self.model.decode(mu + F.exp(ln_var / 2) * eps, logits=True)
        return (F.bernoulli_nll(x, y) + beta * F.gaussian_kl_divergence(mu, ln_var)) / len(x)

    def noise(self, n, rng):
        """eps ~ N(0, I), n codes, drawn from the NumPy generator `rng` on the trainer's device."""
        return self.device.send(rng.standard_normal((n, self.model.n_latent), np.float32))

    def reconstruction_loss(self, x):
        """The training loss of a minibatch: -ELBO per image (its KL term times beta)."""
        return self.negative_elbo(x, self.noise(len(x), self.rng), self.beta)

    def elbo(self, x):
        """The ELBO per image of a whole set, in nats (Trainer.mean: eval mode, batch by batch,
        every process's share together), eps fixed (seed 0)."""
        rng = np.random.default_rng(0)
        return -self.mean(x, lambda batch: (float(self.negative_elbo(
            batch, self.noise(len(batch), rng)).array) * len(batch), len(batch)))

    def measure(self, t0):
        """After an epoch: the ELBO of the train and test sets, then the MSEs (lab.trainer)."""
        self.elbo_values.append(self.finite(self.elbo(self.train), 'train ELBO'))
        self.test_elbo_values.append(self.finite(self.elbo(self.test), 'test ELBO'))
        return (f'ELBO train {self.elbo_values[-1]:.2f}  test {self.test_elbo_values[-1]:.2f}'
                f' nats  MSE {super().measure(t0)}')

    def history(self):
        return dict(super().history(), train_elbo=self.elbo_values, test_elbo=self.test_elbo_values)

    def record(self):
        return dict(super().record(), elbo_values=self.elbo_values,
                    test_elbo_values=self.test_elbo_values)

    def serialize(self, serializer):
        """A snapshot holds the ELBO histories too."""
        super().serialize(serializer)
        self.elbo_values, self.test_elbo_values = json.loads(serializer(
            'elbo', json.dumps([self.elbo_values, self.test_elbo_values])))

    def condition_to_string(self, epoch=None):
        """The run's name: VAE_alg=<optimizer>_epoch=<epochs> and the model's sizes."""
        return (f'VAE_alg={type(self.inner_optimizer).__name__}'
                f'_epoch={self.epoch if epoch is None else epoch}' + self.model.to_string())


# ---------------------------------------------------------------- the run

# The options a run's name shows; it adds any other that differs from its value in the block.
SHOWN = ('optimizer', 'epoch', 'n_hidden', 'n_latent', 'activate')


def model(hp, n_inputs):
    """The VAE of the hyperparameters hp (HYPERPARAMETERS' keys) for n_inputs values."""
    return VAE(n_inputs, hp['n_hidden'], hp['n_latent'], hp['activate'], seed=hp['seed'])


def memory(hp, data):
    """The bytes a run takes beside its data (lab.trainer.bytes_needed); the options that size
    them."""
    n, h, z = data[0].shape[1], hp['n_hidden'], hp['n_latent']
    return bytes_needed(2 * (n * h + 2 * h * z + h + n + z), (n, h, 2 * z, z, h, n),
                        hp['batchsize']), ('n_hidden', 'n_latent', 'batchsize')


def main(hp):
    """The data, the VAE, its trainer, training, the pictures: enc.png, samples.png and, for a
    2-D code, manifold.png (with the loss curves, the reconstructions, the model)."""
    run = Run(__file__, hp)
    data = run.data(load_mnist)
    run.fits(*memory(hp, data))  # refused here if the machine has not the memory it needs
    vae = model(hp, n_inputs=data[0].shape[1])
    train_vae = Train_VAE(tt_data=data, model=vae, rng=hp['seed'],
                          optimizer=get_optimizer(hp['optimizer'], hp['lr']),
                          lr_decay=hp['lr_decay'], weight_decay=hp['weight_decay'],
                          beta=hp['beta'], device=run.device, comm=run.comm)
    name = run.full_name(train_vae.condition_to_string(hp['epoch']), SHOWN)
    with run.training(train_vae, name):
        train_vae.train_to(epoch=hp['epoch'], batchsize=hp['batchsize'], log=run.log,
                           after_epoch=run.save)
    run.save_outputs(vae.weight_pictures(), save_images, save_loss_curves)
    return train_vae


# Hyperparameters: those of Chainer 7's examples/vae (500 tanh units, a code of 20, Adam,
# 100 epochs of 100 images). Edit them here, or give any of them on the command line (python
# variational_autoencoder.py --help); the training options' help is autoencoder.py's.
HYPERPARAMETERS = dict(
    # --- model ---
    n_hidden=500,           # hidden units of the encoder and of the decoder
    n_latent=20,            # the size of the code z (2: its manifold is drawn), >= 1
    activate='tanh',        # activation of the hidden layers
    # --- training ---
    beta=1.,                # weight of the KL term in the loss (1: the ELBO), >= 0
    optimizer='Adam',
    lr=None,
    lr_decay=1.,
    weight_decay=0.,
    epoch=100,
    batchsize=100,
    seed=1,
)


if __name__ == '__main__':
    with cli.command():  # its errors in one line each, its exit status (lab.cli.EXIT)
        hp = cli.parse(HYPERPARAMETERS, help_from=[autoencoder])
        main(hp)
