"""A setting too large for the machine is refused before it starts, in one line naming the
options that size it (each script's own estimate, lab.trainer.bytes_needed; lab.run.Run.fits);
a MemoryError that happens anyway is the machine's limit, in one line."""
import argparse

import pytest
from conftest import run_script

import autoencoder
import deep_autoencoder
from lab import cli, devices, run as run_module
from lab.options import ConfigError
from lab.trainer import bytes_needed


@pytest.mark.parametrize('script, args, options', [
    ('autoencoder.py', ['--n-hidden', '100000000'], '--n-hidden or --batchsize'),
    ('autoencoder.py', ['--batchsize', '10000000000'], '--n-hidden or --batchsize'),
    ('deep_autoencoder.py', ['--n-hidden-layers', '100000000', '10'],
     '--n-hidden-layers or --batchsize'),
    ('conv_autoencoder.py', ['--channels', '100000', '100000'],
     '--n-hidden or --channels or --batchsize'),
    ('variational_autoencoder.py', ['--n-hidden', '100000000'],
     '--n-hidden or --n-latent or --batchsize'),
])
def test_a_setting_too_large_is_refused_in_one_line_before_training(tmp_path, script, args,
                                                                    options):
    r = run_script(script, '--dataset', 'digits', '--out', str(tmp_path), *args)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert 'GiB' in r.stderr and r.stderr.strip().endswith(f'lower {options}')
    assert 'epoch' not in r.stdout and not list((tmp_path / 'digits').iterdir())


def test_the_estimate_counts_the_weights_the_optimizer_and_the_largest_batch():
    # 10 parameters 4 times; a batch of 2,500 (the evaluation's, larger than 100) through
    # widths 3 and 5, 3 times; 7 values held: float32 bytes.
    assert bytes_needed(10, (3, 5), 100) == 4 * (40 + 3 * 2500 * 8)
    assert bytes_needed(10, (3, 5), 5000, held=7) == 4 * (40 + 3 * 5000 * 8 + 7)


def test_each_script_sizes_its_estimate_by_its_own_model(digits):
    data, _ = digits
    hp = dict(autoencoder.HYPERPARAMETERS)
    small, options = autoencoder.memory(hp, data)
    assert options == ('n_hidden', 'batchsize')
    assert autoencoder.memory(dict(hp, n_hidden=1000), data)[0] > small
    assert autoencoder.memory(dict(hp, tied=True), data)[0] < small
    deep = dict(deep_autoencoder.HYPERPARAMETERS)
    wide = deep_autoencoder.memory(dict(deep, n_hidden_layers=[10000, 10]), data)[0]
    # pretraining's codes of every image at the widest layer: 1,797 images of 10,000 values
    assert wide > 4 * 1797 * 10000 > deep_autoencoder.memory(deep, data)[0]


def test_the_refusal_compares_with_what_the_process_has(monkeypatch):
    run = run_module.Run.__new__(run_module.Run)
    run.device = devices.HOST
    monkeypatch.setattr(devices, 'available_memory', lambda device: 2**30)
    run.fits(2**30, ('n_hidden',))  # just fits
    with pytest.raises(ConfigError, match=r'needs about 2.0 GiB .* has 1.0 GiB available: '
                                          r'lower --n-hidden or --batchsize'):
        run.fits(2**31, ('n_hidden', 'batchsize'))
    monkeypatch.setattr(devices, 'available_memory', lambda device: None)
    run.fits(2**60, ('n_hidden',))  # not known here (not Linux): not refused


def test_available_memory_is_the_least_of_the_kernels_and_the_containers(tmp_path, monkeypatch):
    limit, usage, unlimited = tmp_path / 'max', tmp_path / 'current', tmp_path / 'unlimited'
    limit.write_text('3000000\n')
    usage.write_text('1000000\n')
    unlimited.write_text('max\n')
    monkeypatch.setattr(devices, 'CGROUPS', [(str(unlimited), str(usage)),
                                             (str(limit), str(usage))])
    assert devices.available_memory() == 2000000  # a container's limit less its use
    monkeypatch.setattr(devices, 'CGROUPS', [(str(unlimited), str(usage))])
    assert devices.available_memory() > 2000000  # no limit: the kernel's MemAvailable


def test_a_memory_error_anyway_is_one_line_and_bad_input(capsys):
    with pytest.raises(SystemExit) as exit_:
        with cli.command(argparse.ArgumentParser(prog='autoencoder.py')):
            raise MemoryError('Unable to allocate 23.8 GiB')
    assert exit_.value.code == cli.EXIT['bad_input']
    err = capsys.readouterr().err
    assert err == ('autoencoder.py: error: out of memory (Unable to allocate 23.8 GiB): this '
                   'machine cannot hold these settings; smaller ones can\n')
