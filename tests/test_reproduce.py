"""reproduce.py, the command: its options, its bad input, Ctrl-C, and the split each experiment
measures on."""
import json
import os

import numpy as np
import pytest
from conftest import full

import reproduce
from lab import report
from lab.experiments import search as search_experiment
from lab import children
import utils


@pytest.mark.parametrize('args, message', [
    (['--jobs', '0'], 'jobs must be an integer >= 1, got 0'),
    (['--seeds', '0'], 'seeds must be an integer >= 1, got 0'),
    (['--device', 'cuda'], "device must be a Chainer device such as @numpy or @cupy:0; 'cuda'"),
])
def test_bad_input_exits_2(capsys, args, message):
    with pytest.raises(SystemExit) as e:
        reproduce.main(['--quick', *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_an_unwritable_out_is_refused_before_the_data_is_looked_for(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv('MNIST_DIR', str(tmp_path / 'not there'))
    with pytest.raises(SystemExit) as e:
        reproduce.main(['--out', '/proc/no'])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--out '/proc/no' is not a writable directory" in err, err


@full
def test_ctrl_c_stops_reproduce_and_its_runs(tmp_path):
    import signal
    import subprocess
    import sys
    from conftest import ROOT
    p = subprocess.Popen([sys.executable, '-u', 'reproduce.py', '--quick', '--jobs', '2',
                          '--out', str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith('done  '):  # runs are going on beside it
            break
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)  # not the minute or so the rest of the grid takes
    assert p.returncode == 130
    assert 'Traceback' not in err and 'stopped by SIGINT' in err
    left = [pid for pid in os.listdir('/proc') if pid.isdigit()
            and str(tmp_path) in open(f'/proc/{pid}/cmdline', 'rb').read().decode(errors='replace')]
    assert not left  # no run of it goes on


@full
def test_conv_quick_compares_the_two_rows_by_the_rule_and_renders_from_its_json(tmp_path):
    assert reproduce.main(['--experiment', 'conv', '--quick', '--out', str(tmp_path),
                           '--jobs', '2']) == 0
    recorded = json.loads((tmp_path / 'conv.json').read_text())
    assert (tmp_path / 'conv.md').read_text() == report.render('conv.md.j2', **recorded)
    conv, dense = recorded['rows']
    assert (conv['label'], dense['label']) == ('convolutional', 'dense')
    for row in recorded['rows']:
        assert [s['seed'] for s in row['seeds']] == [1, 2]
        assert row['test_mse'] == pytest.approx(np.mean([s['test_mse'] for s in row['seeds']]))
        for picture in row['pictures']:
            assert (tmp_path / picture).exists()
    assert recorded['mse_apart'] == report.differ(conv, dense)
    assert 'conv_autoencoder.py' in conv['command'] and '--activate relu' in conv['command']


@pytest.mark.parametrize('experiment, split', [('original', 'random'), ('conv', 'random'),
                                               ('hinton', 'official'),
                                               ('hinton-seeds', 'official'),
                                               ('hinton-schedule', 'official'),
                                               ('search', 'official'), ('sparsity', 'random')])
def test_each_experiment_measures_on_the_split_its_runs_trained_on(monkeypatch, tmp_path,
                                                                   experiment, split):
    """The probes and baselines of an experiment on MNIST use the split of its runs' commands:
    the original's random one for the grid and the conv rows (the scripts' default), MNIST's
    own for the others (their commands say --split official)."""
    class Loaded(BaseException):
        pass

    def load_mnist(**kwargs):
        raise Loaded(kwargs['split'])
    monkeypatch.setattr(utils, 'load_mnist', load_mnist)
    monkeypatch.setattr(children, 'run_process', lambda *a, **k: pytest.fail('a run was started'))
    # the search experiment measures after search.py's study, which here ends at once
    monkeypatch.setattr(search_experiment, 'run_process', lambda *a, **k: 0)
    with pytest.raises(Loaded) as loaded:
        reproduce.main(['--experiment', experiment, '--dataset', 'mnist', '--out', str(tmp_path)])
    assert str(loaded.value) == split
