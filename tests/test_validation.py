"""Bad input is refused before any work starts, in one message naming the parameter and value.

From Python: a ConfigError. On the command line: one line on stderr, exit status 2, no
traceback, nothing trained and nothing loaded.
"""
import os

import numpy as np
import pytest
from conftest import run_script

import autoencoder as ae
import deep_autoencoder as da
from lab import devices, files, snapshots
import utils
from lab.options import ConfigError

X3 = [np.zeros((3, 64))] * 2  # a tiny [train, test] pair of 64 inputs


@pytest.mark.parametrize('make, message', [
    # the models
    (lambda: ae.AutoEncoder(n_hidden=0), 'n_hidden must be an integer >= 1, got 0'),
    (lambda: ae.AutoEncoder(64, True), 'n_hidden must be an integer >= 1, got True'),
    (lambda: ae.AutoEncoder(dropout_ratio=1.0), r'dropout_ratio must be a number in \[0, 1\), got 1.0'),
    (lambda: ae.AutoEncoder(activate='softplus'), "activate must be one of .*relu.*; got 'softplus'"),
    (lambda: da.DAE(784, ()), r'n_hidden_layers must be a non-empty list of layer sizes, got \(\)'),
    (lambda: da.DAE(784, (100, 0)), r'n_hidden_layers\[1\] must be an integer >= 1, got 0'),
    (lambda: da.DAE(784, (100, 2.5)), r'n_hidden_layers\[1\] must be an integer >= 1, got 2.5'),
    (lambda: da.DAE(784, 100), 'n_hidden_layers must be a non-empty list of layer sizes, got 100'),
    # the trainers and their data
    (lambda: ae.get_optimizer('Adamm'), "optimizer must be one of .*AdaDelta.*; got 'Adamm'"),
    (lambda: ae.get_optimizer(dict), 'optimizer must be a chainer.optimizers class'),
    (lambda: ae.get_optimizer('Adam', lr=-1), 'lr must be a positive number, got -1'),
    (lambda: ae.get_optimizer('AdaDelta', lr=.1), 'lr: AdaDelta has no learning rate'),
    (lambda: ae.AutoEncoder(code_activate='softplus'), "code_activate must be one of .*; got 'softplus'"),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64), loss='l1'),
     "loss must be one of mse, bce; got 'l1'"),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64, activate='relu'), loss='bce'),
     "loss='bce' is the cross-entropy of a sigmoid output; this model's output activation is relu"),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64), lr_decay=0),
     r'lr_decay must be a factor in \(0, 1\], got 0'),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64), optimizer='AdaDelta', lr_decay=.5),
     'lr_decay: AdaDelta has no learning rate to decay'),
    (lambda: da.Train_DAE(X3, da.DAE(64, (10, 5)), pretrain_corruption_ratio=1.),
     r'pretrain_corruption_ratio must be a number in \[0, 1\), got 1.0'),
    (lambda: ae.Train_AutoEncoder([np.zeros((3, 5))] * 2, ae.AutoEncoder()),
     'train data has 5 features per sample but the model has n_inputs=784'),
    (lambda: da.Train_DAE(X3, da.DAE(784, (10, 5))),
     'train data has 64 features per sample but the model has n_inputs=784'),
    (lambda: ae.Train_AutoEncoder([np.full((3, 784), np.nan), np.zeros((3, 784))], ae.AutoEncoder()),
     'train data contains NaN'),
    (lambda: ae.Train_AutoEncoder([np.zeros((3, 64)), np.full((3, 64), np.inf)], ae.AutoEncoder(64)),
     'test data contains NaN or infinite values'),
    (lambda: ae.Train_AutoEncoder([np.zeros((0, 64)), np.zeros((3, 64))], ae.AutoEncoder(64)),
     r'train data must be a non-empty 2-D array \(samples, features\), got shape \(0, 64\)'),
    (lambda: ae.Train_AutoEncoder([np.zeros(64), np.zeros((3, 64))], ae.AutoEncoder(64)),
     r'got shape \(64,\)'),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64), corruption_ratio=-.1),
     'corruption_ratio must be a number in'),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64), rng=-3), 'rng must be an integer >= 0, got -3'),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64)).start(epoch=0),
     'epoch must be an integer >= 1, got 0'),
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64)).start(batchsize=0),
     'batchsize must be an integer >= 1, got 0'),
    # devices and processes
    (lambda: ae.Train_AutoEncoder(X3, ae.AutoEncoder(64), device='numpy'),
     "device must be a Chainer device such as @numpy or @cupy:0; 'numpy' cannot be used"),
    (lambda: devices.get_communicator('mpich'), "communicator must be one of .*naive.*; got 'mpich'"),
    # data and pictures
    (lambda: utils.load_mnist(dataset='emnist'), "dataset must be one of auto, mnist, digits; got 'emnist'"),
    (lambda: utils.load_mnist(dataset='digits', test_size=1.5), 'test_size must be a fraction in'),
    (lambda: utils.load_mnist(dataset='digits', split='test'),
     "split must be one of random, official, validation; got 'test'"),
    (lambda: utils.load_mnist(dataset='digits', split='official'),
     "split='official' is made from MNIST's own 60,000/10,000 split; the digits data set has none"),
    (lambda: utils.save_images(np.full((4, 4), np.nan), 'x.png'), 'data_list contains NaN'),
    (lambda: utils.save_images(np.ones(4), 'x.png'), 'data_list must be a non-empty 2-D array'),
    (lambda: utils.tile_images(np.ones(4)), 'rows must be a non-empty 2-D array'),
])
def test_api_refuses_bad_input_naming_it(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_a_picture_into_a_folder_that_does_not_exist_names_the_file():
    with pytest.raises(files.WriteError,
                       match='^cannot write /nonexistent/dir/x.png: No such file or directory$'):
        utils.save_images(np.ones((4, 4)), '/nonexistent/dir/x.png')


# On the command line every one of these must be found before the data are loaded: with
# MNIST_DIR pointing nowhere, loading would fail with a message about MNIST_DIR instead.
NO_DATA = {'MNIST_DIR': '/nonexistent'}


@pytest.mark.parametrize('script, args, message', [
    ('autoencoder.py', ['--dropout-ratio', '1.5'], '--dropout-ratio must be a number in [0, 1), got 1.5'),
    ('autoencoder.py', ['--corruption-ratio', '1.5'], '--corruption-ratio must be a number in [0, 1), got 1.5'),
    ('autoencoder.py', ['--corruption-ratio', 'nan'], '--corruption-ratio must be a number in [0, 1), got nan'),
    ('autoencoder.py', ['--n-hidden', '0'], '--n-hidden must be an integer >= 1, got 0'),
    ('autoencoder.py', ['--n-hidden', 'ten'], "argument --n-hidden: invalid int value: 'ten'"),
    ('autoencoder.py', ['--activate', 'softmax'], "argument --activate: invalid choice: 'softmax'"),
    ('autoencoder.py', ['--optimizer', 'Adamm'], '--optimizer must be one of'),
    ('autoencoder.py', ['--epoch', '0'], '--epoch must be an integer >= 1, got 0'),
    ('autoencoder.py', ['--batchsize', '0'], '--batchsize must be an integer >= 1, got 0'),
    ('autoencoder.py', ['--seed', '-1'], '--seed must be an integer >= 0, got -1'),
    ('autoencoder.py', ['--split-seed', '-2'], '--split-seed must be an integer >= 0, got -2'),
    ('autoencoder.py', ['--weight-decay=-1e-5'], '--weight-decay must be a number >= 0, got -1e-05'),
    ('deep_autoencoder.py', ['--weight-decay', 'nan'], '--weight-decay must be a number >= 0, got nan'),
    ('deep_autoencoder.py', ['--init', 'zeros'], "argument --init: invalid choice: 'zeros'"),
    ('deep_autoencoder.py', ['--momentum-max', '.99'], '--momentum-max: Adam has no momentum'),
    ('autoencoder.py', ['--optimizer', 'NesterovAG', '--momentum-max', '1'],
     '--momentum-max must be a number in (0, 1), got 1.0'),
    ('deep_autoencoder.py', ['--split-seed', '-2'], '--split-seed must be an integer >= 0, got -2'),
    ('autoencoder.py', ['--device', 'gpu0'], "--device must be a Chainer device such as @numpy or @cupy:0; 'gpu0'"),
    ('autoencoder.py', ['--communicator', 'mpich'], "argument --communicator: invalid choice: 'mpich'"),
    ('autoencoder.py', ['--resume', '/nonexistent.npz'], "--resume: '/nonexistent.npz' is not a readable snapshot"),
    ('deep_autoencoder.py', ['--n-hidden-layers', '100', '0'], '--n-hidden-layers[1] must be an integer >= 1, got 0'),
    ('deep_autoencoder.py', ['--finetune-epoch', '0'], '--finetune-epoch must be an integer >= 1, got 0'),
    ('deep_autoencoder.py', ['--pretrain-epoch', '0'], '--pretrain-epoch must be an integer >= 1, got 0'),
    ('deep_autoencoder.py', ['--dropout-ratio', '-0.5'], '--dropout-ratio must be a number in [0, 1), got -0.5'),
    ('deep_autoencoder.py', ['--corruption-ratio', '1'], '--corruption-ratio must be a number in [0, 1), got 1.0'),
    ('deep_autoencoder.py', ['--optimizer', 'adam'], '--optimizer must be one of'),
    ('autoencoder.py', ['--split', 'official', '--dataset', 'digits'],
     "--split 'official' is made from MNIST's own 60,000/10,000 split; the digits data set has none"),
    ('autoencoder.py', ['--split', 'test'], "argument --split: invalid choice: 'test'"),
    ('deep_autoencoder.py', ['--split', 'official', '--dataset', 'digits'],
     "--split 'official' is made from MNIST's own 60,000/10,000 split"),
    ('autoencoder.py', ['--lr', '.1'], '--lr: AdaDelta has no learning rate'),  # the default
    ('autoencoder.py', ['--optimizer', 'Adam', '--lr', '0'], '--lr must be a positive number, got 0.0'),
    ('autoencoder.py', ['--optimizer', 'Adam', '--lr-decay', '1.5'],
     '--lr-decay must be a factor in (0, 1], got 1.5'),
    ('autoencoder.py', ['--lr-decay', '.5'], '--lr-decay: AdaDelta has no learning rate to decay'),
    ('autoencoder.py', ['--loss', 'l1'], "argument --loss: invalid choice: 'l1'"),
    ('autoencoder.py', ['--code-activate', 'softmax'], "argument --code-activate: invalid choice"),
    ('deep_autoencoder.py', ['--pretrain-corruption-ratio', '1'],
     '--pretrain-corruption-ratio must be a number in [0, 1), got 1.0'),
    ('deep_autoencoder.py', ['--split', 'official', '--dataset', 'digits'], "--split 'official'"),
    ('conv_autoencoder.py', ['--channels', '16'], '--channels must be two sizes (C1, C2), got [16]'),
    ('conv_autoencoder.py', ['--channels', '16', '0'], '--channels[1] must be an integer >= 1, got 0'),
])
def test_command_line_refuses_bad_input_before_loading_data(tmp_path, script, args, message):
    r = run_script(script, '--dataset', 'mnist', '--out', str(tmp_path / 'out'), *args, env=NO_DATA)
    assert r.returncode == 2
    assert message in r.stderr and 'MNIST_DIR' not in r.stderr
    assert r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr
    assert 'epoch' not in r.stdout and not os.path.exists(tmp_path / 'out' / 'mnist')


@pytest.mark.parametrize('script', ['autoencoder.py', 'deep_autoencoder.py', 'reproduce.py'])
def test_an_unknown_option_gets_the_closest_one_and_a_pointer_to_help(script):
    r = run_script(script, '--n-hiden', '50', '--seeds=3', '--quikc', env=NO_DATA)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert r.stderr.count('\n') == 1 and r.stderr.startswith(f'{script}: error: unrecognized')
    assert f'; see python {script} --help' in r.stderr
    closest = {'autoencoder.py': '--n-hiden (did you mean --n-hidden?)',
               'deep_autoencoder.py': '--n-hiden (did you mean --n-hidden-layers?)',
               'reproduce.py': '--quikc (did you mean --quick?)'}
    assert closest[script] in r.stderr


def test_a_tilde_in_mnist_dir_and_out_is_the_home_folder(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    r = run_script('autoencoder.py', '--dataset', 'mnist', '--out', '~/runs',
                   env={'HOME': str(home), 'MNIST_DIR': '~/mnist'})
    assert r.returncode == 2 and f"MNIST_DIR '{home}/mnist' is not a directory" in r.stderr
    assert os.path.isdir(home / 'runs')  # --out was checked, and made, there


def test_a_missing_data_folder_is_reported_as_such(tmp_path):
    r = run_script('autoencoder.py', '--dataset', 'mnist', '--out', str(tmp_path), env=NO_DATA)
    assert r.returncode == 2 and "MNIST_DIR '/nonexistent' is not a directory" in r.stderr


@pytest.mark.parametrize('script', ['autoencoder.py', 'deep_autoencoder.py'])
def test_unwritable_output_folder_is_found_before_the_data_are_loaded(tmp_path, script):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    r = run_script(script, '--dataset', 'mnist', '--out', str(blocker), env=NO_DATA)
    assert r.returncode == 2 and f"--out '{blocker}' is not a writable directory" in r.stderr
    assert 'epoch' not in r.stdout


def test_resume_refuses_a_corrupt_or_foreign_snapshot(tmp_path):
    corrupt = tmp_path / 'x.npz'
    corrupt.write_bytes(b'PK\x03\x04 truncated')
    r = run_script('autoencoder.py', '--resume', str(corrupt))
    assert r.returncode == 2 and 'is not a readable snapshot' in r.stderr

    trainer = ae.Train_AutoEncoder(X3, ae.AutoEncoder(64))
    snapshots.save(trainer, str(tmp_path / 'ae.npz'),
                   dict(script='autoencoder.py', arguments={}, dataset={}))
    r = run_script('deep_autoencoder.py', '--resume', str(tmp_path / 'ae.npz'))
    assert r.returncode == 2
    assert 'is a snapshot of autoencoder.py, not of deep_autoencoder.py' in r.stderr
