import json
import os
import subprocess
import sys

import chainer
import chainer.functions as F
import numpy as np
import pytest
from conftest import ROOT, full, run_script

import autoencoder as ae
import utils
from lab import devices
from lab.options import ConfigError


def train(digits, epoch=5, seed=0, **kw):
    data, _ = digits
    model = ae.AutoEncoder(64, 32, .1, kw.pop('activate', 'sigmoid'), seed=seed)
    trainer = ae.Train_AutoEncoder(data, model, .3, rng=seed, optimizer=kw.pop('optimizer', 'Adam'))
    trainer.start(epoch, 20, log=None)
    return trainer


def test_autoencoder_learns(digits):
    trainer = train(digits, epoch=10)
    first, last = trainer.test_loss_values[0], trainer.test_loss_values[-1]
    assert len(trainer.loss_values) == len(trainer.test_loss_values) == 10
    assert last < 0.6 * first
    x_train, x_test = digits[0]
    mean_image_mse = np.square(x_test - x_train.mean(axis=0)).mean()
    assert last < mean_image_mse  # better than predicting the average digit


def test_evaluate_is_the_eval_mode_mse(digits):
    trainer = train(digits, epoch=1)
    x = trainer.test
    with chainer.using_config('train', False):
        expected = F.mean_squared_error(trainer.model(x), x).array
    assert trainer.test_loss_values[-1] == pytest.approx(float(expected), rel=1e-5)


def test_same_seed_same_losses_and_weights(digits):
    a, b = train(digits, epoch=2), train(digits, epoch=2)
    assert a.loss_values == b.loss_values and a.test_loss_values == b.test_loss_values
    np.testing.assert_array_equal(a.model.encoder.W.array, b.model.encoder.W.array)
    assert train(digits, epoch=2, seed=1).loss_values != a.loss_values


def test_masking_noise_zeroes_the_requested_fraction_and_nothing_else():
    model = ae.AutoEncoder(1000, 10)
    x = np.random.default_rng(0).uniform(.1, 1, (200, 1000)).astype(np.float32)
    trainer = ae.Train_AutoEncoder([x, x], model, corruption_ratio=.3, rng=0)
    noisy = trainer.corrupt(x)
    zero = noisy == 0
    assert zero.mean() == pytest.approx(.3, abs=.005)
    np.testing.assert_array_equal(noisy[~zero], x[~zero])
    assert noisy.dtype == np.float32
    assert not np.array_equal(trainer.corrupt(x) == 0, zero)  # fresh noise each call


def test_eval_mode_is_deterministic_and_training_mode_drops_out():
    model = ae.AutoEncoder(64, 40, dropout_ratio=.5)
    x = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    with chainer.using_config('train', False):
        h1, h2 = model(x, hidden=True).array, model(x, hidden=True).array
    np.testing.assert_array_equal(h1, h2)
    with chainer.using_config('train', True):
        h = model(x, hidden=True).array
    dropped = h == 0
    assert .3 < dropped.mean() < .7
    np.testing.assert_allclose(h[~dropped], 2 * h1[~dropped], rtol=1e-6)  # kept units scaled


def test_reconstruction_is_not_dropped_out():
    """With a zero decoder weight every output is sigmoid(bias), in training mode too: dropout
    there would zero about half of them and double the rest."""
    model = ae.AutoEncoder(64, 40, dropout_ratio=.5, activate='sigmoid')
    model.decoder.W.array[...] = 0
    model.decoder.b.array[...] = 1
    x = np.random.default_rng(0).random((50, 64), dtype=np.float32)
    with chainer.using_config('train', True):
        y = model(x).array
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-1)), rtol=1e-6)


def numpy_sgd_step(params, x, noisy, lr, sparsity=0.):
    """One SGD step on the mean squared error of a sigmoid autoencoder, plus sparsity times the
    L1 norm of the code per image, by hand in NumPy (float64): an implementation independent of
    Chainer's graph."""
    w1, b1, w2, b2 = (p.astype(np.float64) for p in params)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h = sig(noisy @ w1.T + b1)
    y = sig(h @ w2.T + b2)
    gy = 2 * (y - x) / x.size * y * (1 - y)  # through the output sigmoid
    gh = (gy @ w2 + sparsity * np.sign(h) / len(x)) * h * (1 - h)
    grads = gh.T @ noisy, gh.sum(0), gy.T @ h, gy.sum(0)
    return [p - lr * g for p, g in zip((w1, b1, w2, b2), grads)]


@pytest.mark.parametrize('sparsity', [0., .1])
def test_a_training_step_matches_an_independent_numpy_implementation(sparsity):
    rng = np.random.default_rng(0)
    x = rng.random((8, 20), dtype=np.float32)
    model = ae.AutoEncoder(20, 6, dropout_ratio=0, activate='sigmoid', seed=3)
    before = [p.array.copy() for p in (model.encoder.W, model.encoder.b,
                                       model.decoder.W, model.decoder.b)]
    trainer = ae.Train_AutoEncoder([x, x], model, corruption_ratio=.3, rng=7,
                                   optimizer=chainer.optimizers.SGD(lr=.5), sparsity=sparsity)
    draws = np.random.default_rng(7)  # what the trainer's generator draws:
    order = draws.permutation(8)  # the shuffle, then the noise
    noisy = x[order] * (draws.random((8, 20), dtype=np.float32) >= .3)
    trainer.train_epoch(batchsize=8)  # one step: the whole batch
    expected = numpy_sgd_step(before, x[order], noisy.astype(np.float64), lr=.5,
                              sparsity=sparsity)
    for name, p, q in zip(('W1', 'b1', 'W2', 'b2'), (model.encoder.W, model.encoder.b,
                                                   model.decoder.W, model.decoder.b), expected):
        np.testing.assert_allclose(p.array, q, rtol=1e-5, atol=1e-6, err_msg=name)
    assert not np.allclose(before[0], model.encoder.W.array)  # the step moved the weights


def test_tied_autoencoder_trains_one_weight_matrix(digits):
    data, _ = digits
    model = ae.AutoEncoder(64, 16, dropout_ratio=0, activate='sigmoid', tied=True, seed=0)
    assert sorted(name for name, _ in model.namedparams()) == \
        ['/decoder_bias', '/encoder/W', '/encoder/b']
    trainer = ae.Train_AutoEncoder(data, model, corruption_ratio=.2, rng=0, optimizer='Adam')
    trainer.start(8, 20, log=None)
    assert trainer.test_loss_values[-1] < .6 * trainer.test_loss_values[0]
    # its reconstruction is f(h W1 + b2): the decoder is the encoder's weight transposed
    x = data[1][:5]
    with chainer.using_config('train', False):
        h = model(x, hidden=True).array
        y = model(x).array
    w, b = model.encoder.W.array, model.decoder_bias.array
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-(h @ w + b))), rtol=1e-5)
    assert set(model.weight_pictures()) == {'enc.png', 'dec.png'}
    np.testing.assert_array_equal(model.weight_pictures()['dec.png'], w)


def test_linear_tied_autoencoder_reaches_pca(digits):
    """The write-up's claim: identity activation, W2 = W1^T, no noise, no dropout -> PCA."""
    from sklearn.decomposition import PCA
    data, _ = digits
    k = 16
    pca = PCA(k, random_state=0).fit(data[0])
    pca_mse = np.square(pca.inverse_transform(pca.transform(data[1])) - data[1]).mean()
    model = ae.AutoEncoder(64, k, dropout_ratio=0, activate='identity', tied=True, seed=0)
    trainer = ae.Train_AutoEncoder(data, model, corruption_ratio=0, rng=0,  # decayed, as
                                   optimizer=chainer.optimizers.Adam(alpha=1e-2),  # on MNIST
                                   lr_decay=.85)
    trainer.start(30, 20, log=None)
    assert trainer.test_loss_values[-1] == pytest.approx(pca_mse, rel=.02)
    assert trainer.test_loss_values[0] > 1.1 * pca_mse  # it got there by training


@pytest.mark.parametrize('tied', [False, True])
def test_copies_hold_the_trained_values_not_references(tied):
    model = ae.AutoEncoder(64, 16, tied=tied)
    decoder_b = model.decoder_bias if tied else model.decoder.b
    model.encoder.b.array[...] = np.arange(16)
    decoder_b.array[...] = -np.arange(64)
    decoder_w = model.encoder.W.array.T if tied else model.decoder.W.array
    for (w, b), copy in (((model.encoder.W.array, model.encoder.b.array), model.copy_encoder()),
                         ((decoder_w, decoder_b.array), model.copy_decoder())):
        assert copy.W.shape == w.shape and copy.W.array is not w
        np.testing.assert_array_equal(copy.W.array, w)
        np.testing.assert_array_equal(copy.b.array, b)
        copy.W.array[...] += 1
        copy.b.array[...] += 1
        assert not np.array_equal(copy.W.array, w) and not np.array_equal(copy.b.array, b)


def test_the_device_given_holds_model_and_data_and_changes_nothing(digits):
    """The trainer puts the model and both data sets on the device it is given, once, and
    makes it current (a CPU device that records what it is asked, so no GPU is needed)."""
    class Recording(chainer.backend.CpuDevice):
        sent, used = [], []

        def send_array(self, array):
            self.sent.append(array.shape)
            return super().send_array(array)

        def use(self):
            self.used.append(True)

    alone = train(digits, epoch=2)
    data, _ = digits
    model = ae.AutoEncoder(64, 32, .1, 'sigmoid', seed=0)
    device = Recording()
    trainer = ae.Train_AutoEncoder(data, model, .3, rng=0, optimizer='Adam', device=device)
    assert trainer.device is device and device.used
    assert data[0].shape in device.sent and data[1].shape in device.sent  # the data sets
    assert model.device is device  # the model, moved there
    trainer.start(2, 20, log=None)
    assert trainer.test_loss_values == alone.test_loss_values
    np.testing.assert_array_equal(model.encoder.W.array, alone.model.encoder.W.array)


@pytest.mark.skipif(chainer.backends.cuda.available, reason='CuPy is installed here')
def test_a_gpu_without_cupy_is_refused_with_how_to_get_it():
    with pytest.raises(ConfigError, match=r"'@cupy:0' cannot be used: .*pip install cupy-cuda12x"):
        devices.get_device('@cupy:0')


def test_a_communicator_without_mpi4py_is_refused_with_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'chainermn', None)  # `import chainermn` raises ImportError
    with pytest.raises(ConfigError, match=r"communicator 'naive' needs mpi4py .*make mpi-setup"):
        devices.get_communicator('naive')


@full  # a run in a child process: not quick
def test_single_process_runs_never_import_mpi(tmp_path):
    code = ('import sys, autoencoder\n'
            'autoencoder.main(dict(autoencoder.HYPERPARAMETERS, epoch=1, dataset="digits", '
            f'out={str(tmp_path)!r}))\n'
            'assert "mpi4py" not in sys.modules and "chainermn" not in sys.modules\n')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'epoch 1/1' in r.stdout


def test_names_are_the_originals():
    model = ae.AutoEncoder(784, 100, .1, F.relu)
    assert model.to_string() == 'drop=10activate=relu_nhidden=100'
    x = np.zeros((2, 784), np.float32)
    trainer = ae.Train_AutoEncoder([x, x], model, .3, optimizer=chainer.optimizers.AdaDelta)
    trainer.epoch = 20
    assert trainer.condition_to_string() == \
        'alg=AdaDelta_epoch=20_corp=30drop=10activate=relu_nhidden=100'


@pytest.mark.parametrize('optimizer, rho', [('AdaDelta', .95), (chainer.optimizers.AdaDelta, .95),
                                            (chainer.optimizers.AdaDelta(rho=.9), .9)])
def test_optimizer_as_name_class_or_instance(optimizer, rho):
    got = ae.get_optimizer(optimizer)
    assert isinstance(got, chainer.optimizers.AdaDelta) and got.rho == rho


def test_command_line_run_writes_every_output(tmp_path):
    r = run_script('autoencoder.py', '--epoch', '1', '--dataset', 'digits', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert 'epoch 1/1' in r.stdout and 'data: digits' in r.stdout
    assert r.stdout.endswith(utils.DIGITS_PICTURES + '\n')  # what to expect of its pictures
    name = 'alg=AdaDelta_epoch=1_corp=30drop=10activate=relu_nhidden=100'
    suffixes = ['dec.png', 'enc.png', 'log.json', 'loss.png', 'model.npz', 'reconstruction.png',
                'run.json']
    assert sorted(os.listdir(tmp_path / 'digits')) == ['.locks', *(name + s for s in suffixes)]
    log = json.loads((tmp_path / 'digits' / (name + 'log.json')).read_text())
    assert [(e['phase'], e['epoch']) for e in log] == [('', 1)]
    run = json.loads((tmp_path / 'digits' / (name + 'run.json')).read_text())
    assert run['dataset']['name'] == 'digits'
    assert run['arguments']['seed'] == 1 and run['arguments']['epoch'] == 1
    assert len(run['loss_values']) == len(run['test_loss_values']) == 1
    with np.load(tmp_path / 'digits' / (name + 'model.npz')) as f:
        assert f['encoder/W'].shape == (100, 64)


@pytest.mark.parametrize('script, first', [('autoencoder.py', '--n-hidden'),
                                           ('deep_autoencoder.py', '--n-hidden-layers')])
def test_help_lists_the_model_and_training_options_first(script, first):
    r = run_script(script, '--help')
    assert r.returncode == 0
    groups = ['model:', 'training:', 'data and output:', 'device and processes:', 'resuming:']
    positions = [r.stdout.index('\n' + group) for group in groups]
    assert positions == sorted(positions)
    assert positions[0] < r.stdout.index('  ' + first) < positions[1]
    assert positions[1] < r.stdout.index('  --seed') < positions[2]


def test_learning_rate_is_set_and_multiplied_after_every_epoch(digits):
    assert ae.get_optimizer('SGD', .3).lr == .3 and ae.get_optimizer('MomentumSGD', .2).lr == .2
    assert ae.get_optimizer('Adam').alpha == 1e-3  # Chainer's default when lr is unset
    trainer = ae.Train_AutoEncoder(digits[0], ae.AutoEncoder(64, 32, 0), 0,
                                   optimizer=ae.get_optimizer('Adam', .01), lr_decay=.5)
    rates = []
    trainer.start(3, 100, log=None, after_epoch=lambda: rates.append(trainer.optimizer.alpha))
    assert rates == [.01, .005, .0025]


def test_cross_entropy_trains_a_sigmoid_output_and_the_reported_losses_stay_the_mse(digits):
    def trainer(loss):
        model = ae.AutoEncoder(64, 32, .1, 'relu', seed=0, output_activate='sigmoid')
        t = ae.Train_AutoEncoder(digits[0], model, .3, optimizer='Adam', loss=loss)
        t.start(4, 20, log=None)
        return t
    bce, mse = trainer('bce'), trainer('mse')
    assert bce.test_loss_values[-1] < .6 * bce.test_loss_values[0]
    assert bce.test_loss_values != mse.test_loss_values  # the loss changes the training
    x = bce.test
    with chainer.using_config('train', False):
        y = bce.model(x)
        np.testing.assert_allclose(F.sigmoid(bce.model(x, logits=True)).array, y.array, atol=1e-6)
    assert bce.test_loss_values[-1] == pytest.approx(float(np.mean((y.array - x) ** 2)), rel=1e-5)


@full  # a run in a child process: not quick
def test_progress_inside_an_epoch_on_a_terminal_and_not_in_a_pipe(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    from conftest import script_command
    args = ('--dataset', 'digits', '--epoch', '2', '--out', str(tmp_path))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))  # 100 columns
    process = subprocess.Popen(script_command('autoencoder.py', *args), cwd=ROOT, stdout=slave,
                               stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the script ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=120) == 0
    terminal = b''.join(chunks).decode()
    assert '\repoch 1: ' in terminal and '\repoch 2: ' in terminal  # tqdm's bars
    assert '0/1347 [' in terminal and 'images/s]' in terminal
    piped = run_script('autoencoder.py', *args)
    assert piped.returncode == 0 and '/1347 images' not in piped.stdout
    assert '\r' not in piped.stdout


def test_the_momentum_rises_update_by_update_as_sutskever_et_al_raised_it(digits):
    """Each update runs at min(1 - 2^-(1 + log2(floor(t/250) + 1)), momentum_max)."""
    data, _ = digits
    model = ae.AutoEncoder(64, 32, 0., 'sigmoid', seed=0)
    trainer = ae.Train_AutoEncoder(data, model, 0., rng=0, momentum_max=.85,
                                   optimizer=chainer.optimizers.NesterovAG(lr=.01))
    used = []
    trainer.optimizer.add_hook(lambda opt: used.append((opt.t, opt.hyperparam.momentum)),
                               name='record')
    trainer.start(6, 10, log=None)  # 135 updates an epoch
    assert len(used) == 6 * 135
    expected = [.5] * 250 + [.75] * 250 + [1 - 2 ** -(1 + np.log2(3))] * 250 + [.85] * 60
    np.testing.assert_allclose([m for _, m in used], expected)
    assert [t for t, _ in used] == list(range(len(used)))  # before each update
    assert ae.momentum_at(10**6, .99) == .99


def test_the_posts_own_main_blocks_run_against_these_classes(tmp_path, digits, monkeypatch):
    """The 2016 post's two __main__ blocks, as a reader would paste them (docs: the original,
    restated), on 784-value images: the 8x8 digits scaled up to 28x28. Only the data loading is
    new (fetch_mldata is gone) and the epochs are fewer, to be quick."""
    import chainer.functions as F
    from chainer import optimizers

    from autoencoder import AutoEncoder, Train_AutoEncoder
    from deep_autoencoder import DAE, Train_DAE
    from utils import save_images
    (x_train, x_test), _ = digits
    big = lambda x: np.pad(np.kron(x.reshape(-1, 8, 8), np.ones((3, 3))), (  # noqa: E731
        (0, 0), (2, 2), (2, 2))).reshape(len(x), 784).astype(np.float32)
    data = [big(x_train[:300]), big(x_test[:100])]
    monkeypatch.chdir(tmp_path)  # the post wrote its pictures into the current folder

    # the single autoencoder's __main__
    ae = AutoEncoder(n_inputs=784, n_hidden=100, dropout_ratio=.10, activate=F.relu)
    train_ae = Train_AutoEncoder(tt_data=data, model=ae, optimizer=optimizers.AdaDelta,
                                 corruption_ratio=.3)
    train_ae.start(epoch=2)
    name = train_ae.condition_to_string()
    save_images(ae.encoder.W.data, filename=name + "enc.png")
    save_images(ae.decoder.W.data.T, filename=name + "dec.png")
    assert name == 'alg=AdaDelta_epoch=2_corp=30drop=10activate=relu_nhidden=100'

    # the deep autoencoder's __main__
    n_hidden_layers = [100, 25]
    dae = DAE(n_hidden_layers=n_hidden_layers)
    train_dae = Train_DAE(tt_data=data, model=dae)
    train_dae.pre_training(epoch=1)
    train_dae.fine_tuning(epoch=1)
    condition = train_dae.condition_to_string()
    save_images(train_dae.model.l2.W.data, filename='DAE_' + condition + 'layer2.png')
    save_images(train_dae.model.l1.W.data, filename='DAE_' + condition + 'layer1.png')
    assert sorted(os.listdir(tmp_path)) == sorted(
        [name + 'dec.png', name + 'enc.png', 'DAE_' + condition + 'layer1.png',
         'DAE_' + condition + 'layer2.png'])
    assert len(train_dae.loss_values) == 1 and len(train_dae.pretrainers) == 2
