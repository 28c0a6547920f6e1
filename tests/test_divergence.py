"""A run that cannot succeed stops at once and says why: a loss that is not finite ends it at
that minibatch (or after that epoch's evaluation) with one line and exit status 3, its log
kept and run.json saying how it ended; the experiments carry on past it; a child killed
outright is said to be, with how to resume it."""
import json
import os
import subprocess
import sys
import types

import numpy as np
import optuna
import pytest
from conftest import ROOT, full, run_files, run_script

import autoencoder as ae
import search
from lab import children, report
from lab.cli import EXIT
from lab.signals import Killed
from lab.trainer import Diverged

DIVERGES = ['--activate', 'identity', '--optimizer', 'SGD', '--lr', '50']  # within an epoch


def test_a_diverging_run_stops_in_one_line_keeps_its_log_and_writes_no_picture(tmp_path):
    r = run_script('autoencoder.py', '--dataset', 'digits', '--epoch', '3', '--out',
                   str(tmp_path), *DIVERGES)
    assert r.returncode == EXIT['diverged'] == 3
    assert r.stderr.count('\n') == 1 and 'Warning' not in r.stderr and 'Traceback' not in r.stderr
    assert r.stderr.startswith('autoencoder.py: diverged: the training loss is ')
    assert ' in epoch 1, minibatch ' in r.stderr
    assert 'with SGD at learning rate 50: try a lower --lr or another --optimizer' in r.stderr
    assert 'epoch 1/3' not in r.stdout  # stopped inside the first epoch
    folder = tmp_path / 'digits'
    name = 'alg=SGD_epoch=3_corp=30drop=10activate=identity_nhidden=100_lr=50'
    assert run_files(folder) == [name + 'run.json']  # and its log: no picture, model, snapshot
    assert json.loads((folder / (name + 'log.json')).read_text()) == []  # no finite epoch
    record = json.loads((folder / (name + 'run.json')).read_text())
    assert record['diverged']['epoch'] == 1 and record['diverged']['minibatch'] >= 1
    assert record['diverged']['what'] == 'training loss' and record['loss_values'] == []

    again = run_script('autoencoder.py', '--dataset', 'digits', '--epoch', '3', '--out',
                       str(tmp_path), *DIVERGES)
    assert again.returncode == 3 and 'this run diverged before (the training loss is' in again.stderr
    assert 'other settings make a new run' in again.stderr and '--resume' not in again.stderr


def test_a_deep_run_says_the_layer_whose_pretraining_diverged(tmp_path):
    r = run_script('deep_autoencoder.py', '--dataset', 'digits', '--pretrain-epoch', '2',
                   '--finetune-epoch', '2', '--out', str(tmp_path), *DIVERGES)
    assert r.returncode == 3 and 'Warning' not in r.stderr
    assert 'in epoch 1, minibatch ' in r.stderr and '(pretrain layer 1), with SGD' in r.stderr


def test_the_evaluation_after_an_epoch_is_checked_too(digits):
    trainer = ae.Train_AutoEncoder(digits[0], ae.AutoEncoder(64, 10), rng=1)
    assert trainer.finite(.5, 'train MSE') == .5
    with pytest.raises(Diverged, match='^the test MSE is nan in epoch 0, after its last minibatch$'):
        trainer.finite(float('nan'), 'test MSE')


def test_a_diverged_run_is_measured_as_diverged_and_its_page_says_so(tmp_path, digits):
    ctx = types.SimpleNamespace(device={}, dataset='digits', runs=str(tmp_path), retrain=False,
                                split=digits)
    options = dict(activate='identity', optimizer='SGD', lr=50., epoch=2)
    run, model, m = children.measured_run(ctx, children.Script(ae), options)
    assert model is None and m['diverged'].startswith('the training loss is ')
    assert np.isnan(m['test_mse']) and np.isnan(m['probe'])
    again = children.measured_run(ctx, children.Script(ae), options)[2]  # read back, not rerun
    assert again['cached'] and again['diverged'] == m['diverged']
    row = report.summarise([m, dict(m, seed=2)], ('test_mse', 'probe'))
    assert report.render('conv.md.j2', **conv_page(row)).count('diverged') >= 2


def conv_page(row):
    """The numbers of figures/conv.md with a diverged row (its template renders them)."""
    with open(os.path.join(ROOT, 'figures', 'conv.json')) as f:
        numbers = json.load(f)
    numbers['rows'][0].update(row, pictures=['x.png', 'y.png'])
    return numbers


@full  # a search of its own: not quick
def test_a_search_prunes_a_diverged_trial_and_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(search.SPACES, 'autoencoder.py', dict(activate=['identity', 'relu']))
    status = search.main(['autoencoder.py', '--dataset', 'digits', '--n-trials', '4', '--out',
                          str(tmp_path), '--sampler-seed', '0', '--objective', 'mse',
                          '--optimizer', 'SGD', '--lr', '50', '--epoch', '1'])
    assert status == 0
    study = optuna.load_study(study_name='autoencoder-digits-mse-epoch=1-lr=50.0-optimizer=SGD',
                              storage=f'sqlite:///{tmp_path / "search.db"}')
    trials = study.get_trials()  # identity diverges at this learning rate, relu does not
    assert len(trials) == 4 and {t.state.name for t in trials} == {'PRUNED', 'COMPLETE'}
    for t in trials:
        assert (t.state.name == 'PRUNED') == (t.params['activate'] == 'identity')
        assert (t.state.name == 'PRUNED') == t.user_attrs.get('diverged', '').startswith(
            'the training loss is ')
    assert 'pruned: the run diverged: the training loss' in capsys.readouterr().out


def test_a_child_killed_outright_is_said_to_be_with_how_to_go_on(tmp_path):
    argv = [sys.executable, '-c', 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)']
    with pytest.raises(Killed, match=r'was killed \(SIGKILL: possibly out of memory'):
        children.run_process(argv, None, None, str(tmp_path), 'reproduce.py')
    r = subprocess.run([sys.executable, '-c', 'import sys; from lab import cli\n'
                        'from lab.signals import Killed\n'
                        'import argparse\n'
                        'p = argparse.ArgumentParser(prog="x")\n'
                        'sys.exit(cli.guarded(p, lambda: (_ for _ in ()).throw(Killed("k"))))'],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 137 and r.stderr == 'x: error: k\n'
