"""A run's name: the original's, then every setting that differs from its script's block; runs
with other settings never share one."""
import json
import os

import pytest
from conftest import run_files

import autoencoder as ae
import deep_autoencoder as da
from lab import cli
from lab import run as lab_run


def run_api(tmp_path, **changes):
    """autoencoder.main with its HYPERPARAMETERS, one epoch on the digits, and `changes`."""
    return ae.main(dict(ae.HYPERPARAMETERS, dataset='digits', epoch=1, out=str(tmp_path),
                        **changes))


def test_runs_that_differ_in_seed_or_learning_rate_keep_their_own_outputs(tmp_path):
    for changes in ({}, dict(seed=2), dict(lr=.01), dict(lr=.003)):
        run_api(tmp_path, optimizer='Adam', **changes)
    folder = tmp_path / 'digits'
    names = set()
    for f in os.listdir(folder):
        if f.endswith('run.json'):
            with open(folder / f) as g:
                names.add(json.load(g)['condition'])
    assert len(names) == 4
    assert 'alg=Adam_epoch=1_corp=30drop=10activate=relu_nhidden=100' in names  # the original's
    files = run_files(folder)
    assert len(files) == 4 * 6 and all(sum(f.startswith(n) for f in files) >= 6 for n in names)


@pytest.mark.parametrize('key, value', [
    ('seed', 2), ('split', 'official'), ('split', 'validation'), ('split_seed', 2),
    ('batchsize', 50), ('lr', .5), ('lr_decay', .9), ('loss', 'bce'), ('weight_decay', 1e-5),
    ('momentum_max', .99),
    ('device', '@cupy:0'), ('communicator', 'naive')])
def test_every_setting_that_changes_a_run_changes_its_name(key, value):
    """The settings the original's names leave out: each, away from the original's value,
    adds itself to the name (computed as main() does, without training)."""
    defaults = cli.defaults(ae.__file__)
    assert defaults == dict(ae.HYPERPARAMETERS, **cli.OPTIONS)
    assert lab_run.name_suffix(defaults, defaults, ae.SHOWN) == ''
    changed = lab_run.name_suffix(dict(defaults, **{key: value}), defaults, ae.SHOWN)
    assert changed.startswith('_') and changed != ''


@pytest.mark.parametrize('changes', [dict(pretrain_epoch=5), dict(pretrain_corruption_ratio=.1),
                                     dict(seed=1), dict(init='sparse')])
def test_deep_runs_name_their_pretraining_and_seed(changes):
    base = cli.defaults(da.__file__)
    assert lab_run.name_suffix(base, base, da.SHOWN) == ''
    assert lab_run.name_suffix(dict(base, **changes), base, da.SHOWN) != ''


# One other value for every option of deep_autoencoder.py but where it writes (the base:
# its HYPERPARAMETERS with MomentumSGD, whose momentum can be raised).
DEEP_CHANGES = dict(
    n_hidden_layers=[50, 20], dropout_ratio=0., activate='relu', code_activate='identity',
    optimizer='Adam', lr=.5, lr_decay=.9, weight_decay=1e-5, momentum_max=.99, loss='bce',
    corruption_ratio=.1, pretrain_corruption_ratio=.1, pretrain_epoch=5, no_pretraining=True,
    init='sparse', finetune_epoch=5, batchsize=50, seed=1, split_seed=2)


def test_every_option_of_the_deep_run_is_in_its_name(tmp_path, monkeypatch):
    """The name main() gives, for the base and for each option changed alone: all different
    (split, device and communicator: see the test above; they need MNIST, a GPU, MPI)."""
    assert set(DEEP_CHANGES) | {'dataset', 'out', 'split', 'device', 'communicator'} == set(
        da.HYPERPARAMETERS) | set(cli.OPTIONS)

    class Named(Exception):
        pass

    def stop(run, trainer, name):
        raise Named(name)
    monkeypatch.setattr(lab_run.Run, 'training', stop)
    base = dict(da.HYPERPARAMETERS, optimizer='MomentumSGD', dataset='digits', out=str(tmp_path))
    names = []
    for changes in ({}, *({key: value} for key, value in DEEP_CHANGES.items())):
        with pytest.raises(Named) as named:
            da.main(dict(base, **changes))
        names.append(str(named.value))
    assert len(set(names)) == len(names), names
