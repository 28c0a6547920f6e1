"""search.py: a study of runs, continued, shared, stopped and killed without losing a trial."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import optuna
import pytest
from conftest import ROOT, full, run_script, script_command

import search
from lab import children

S = optuna.trial.TrialState


def study_of(tmp_path, name='autoencoder-digits-both', storage=None):
    return optuna.load_study(study_name=name,
                             storage=storage or f'sqlite:///{tmp_path / "search.db"}')


def trials(study, *states):
    return [t for t in study.get_trials() if not states or t.state in states]


def start_search(*args):
    return subprocess.Popen(script_command('search.py', *args), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def read_until(process, pattern, seen):
    """Lines of a running search until one matches `pattern` (an event, not a clock)."""
    for line in process.stdout:
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f'{pattern!r} never came:\n{"".join(seen)}')


@full
def test_a_study_of_trials_each_a_run_whose_command_gives_its_losses(tmp_path):
    out = run_script('search.py', 'autoencoder.py', '--dataset', 'digits', '--n-trials', '3',
                     '--out', str(tmp_path), '--sampler-seed', '0', '--batchsize', '50',
                     timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    study = study_of(tmp_path, 'autoencoder-digits-both-batchsize=50')
    done = trials(study, S.COMPLETE)
    assert len(done) == 3 and len(trials(study)) == 3
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE,
                                optuna.study.StudyDirection.MAXIMIZE]
    first = done[0]
    command = first.user_attrs['command']
    assert '--split validation' in command and '--batchsize 50' in command
    assert command.startswith('OPENBLAS_NUM_THREADS=1 python autoencoder.py --dataset digits')
    # the trial's values are its run's: the validation MSE of run.json, the probe on its model
    with open(os.path.join(ROOT, first.user_attrs['run'] + 'run.json')) as f:
        record = json.load(f)
    assert first.values[0] == record['test_loss_values'][-1] == first.user_attrs['validation_mse']
    assert record['dataset']['split'] == 'validation'
    run = dict(record=record, folder=os.path.dirname(os.path.join(ROOT, first.user_attrs['run'])),
               name=os.path.basename(first.user_attrs['run']))
    import utils
    (x_train, x_valid), labels = utils.load_mnist(dataset='digits', split='validation', seed=1)
    model = children.load_run(run, search.SCRIPTS['autoencoder.py'], 64)
    assert first.values[1] == children.probe(children.codes(model, x_train),
                                             children.codes(model, x_valid), labels)
    # typed by hand (in another folder), the command gives the trial's losses
    env, argv = {}, shlex.split(command)
    while '=' in argv[0]:
        key, value = argv.pop(0).split('=', 1)
        env[key] = value
    again = run_script(argv[1], *argv[2:-1], str(tmp_path / 'by-hand'), env=env)
    assert again.returncode == 0, again.stderr
    final = re.findall(r'train (\S+)\s+test (\S+)', again.stdout)[-1]
    assert final == (f'{record["loss_values"][-1]:.5f}', f'{record["test_loss_values"][-1]:.5f}')
    # the same command with more trials goes on to that total, and no further
    more = run_script('search.py', 'autoencoder.py', '--dataset', 'digits', '--n-trials', '4',
                      '--out', str(tmp_path), '--batchsize', '50', '--sampler-seed', '0',
                      timeout=300)
    assert more.returncode == 0, more.stdout + more.stderr
    assert len(trials(study_of(tmp_path, 'autoencoder-digits-both-batchsize=50'))) == 4
    assert re.findall(r'^trial (\d+): (?:validation|failed)', more.stdout, re.M) == ['3']


@full
def test_a_trial_with_the_settings_of_a_finished_run_reads_it_back(tmp_path):
    args = ['autoencoder.py', '--dataset', 'digits', '--out', str(tmp_path), '--objective', 'mse',
            '--storage', f'sqlite:///{tmp_path / "a.db"}']
    assert run_script('search.py', *args, '--n-trials', '1', '--sampler-seed', '0',
                      timeout=300).returncode == 0
    first, = trials(study_of(tmp_path, 'autoencoder-digits-mse', f'sqlite:///{tmp_path / "a.db"}'))
    other = f'sqlite:///{tmp_path / "b.db"}'  # another study, the same settings enqueued
    study = optuna.create_study(study_name='b', storage=other)
    study.set_user_attr('search', dict(script='autoencoder.py', dataset='digits',
                                       objective='mse', fixed=dict(split='validation')))
    study.enqueue_trial(first.params)
    out = run_script('search.py', *args[:-1], other, '--study-name', 'b', '--n-trials', '1',
                     timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    again, = trials(optuna.load_study(study_name='b', storage=other))
    assert again.user_attrs['reused'] is True and not first.user_attrs['reused']
    assert again.values == first.values and 'its run read back' in out.stdout


@full
def test_the_mse_objective_reports_every_epoch_and_prunes_a_trial_behind_the_median(tmp_path,
                                                                                   reworded):
    """Its runs print their epochs in other words (reworded): the search reads their logs."""
    storage = f'sqlite:///{tmp_path / "search.db"}'
    study = optuna.create_study(study_name='pruned', storage=storage)
    study.set_user_attr('search', dict(script='autoencoder.py', dataset='digits',
                                       objective='mse', fixed=dict(split='validation')))
    good = dict(activate='sigmoid', dropout_ratio=0., corruption_ratio=0., n_hidden=64,
                optimizer='Adam', epoch=6)
    for lr in (.003, .004, .005, .006, .007):  # five to set the median, then a hopeless one
        study.enqueue_trial(dict(good, **{'lr (Adam)': lr}))
    # the hopeless one is long: its run is still training when the signal that prunes it comes
    study.enqueue_trial(dict(good, optimizer='MomentumSGD', epoch=30,
                             **{'lr (MomentumSGD)': .001}))
    out = run_script('search.py', 'autoencoder.py', '--dataset', 'digits', '--out', str(tmp_path),
                     '--objective', 'mse', '--study-name', 'pruned', '--n-trials', '6',
                     timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    *complete, last = sorted(trials(optuna.load_study(study_name='pruned', storage=storage)),
                             key=lambda t: t.number)
    assert [t.state for t in complete] == [S.COMPLETE] * 5
    assert all(sorted(t.intermediate_values) == list(range(1, 7)) for t in complete)
    assert last.state == S.PRUNED and sorted(last.intermediate_values) == [1, 2, 3]
    # its run stopped before its end (a digits epoch is shorter than the signal's way, but not
    # 27 of them), its snapshot kept for whoever goes on with it
    snapshots = [f for f in os.listdir(tmp_path / 'digits') if f.endswith('snapshot.npz')]
    assert len(snapshots) == 1 and 'MomentumSGD' in snapshots[0]
    assert 3 <= runs_epoch(tmp_path / 'digits' / snapshots[0]) < 30


def runs_epoch(path):
    from lab import snapshots
    return int(snapshots.progress(str(path)).split()[1])


@full
def test_ctrl_c_stops_the_trial_at_a_minibatch_and_the_same_command_goes_on(tmp_path):
    args = ['autoencoder.py', '--dataset', 'digits', '--n-trials', '2', '--out', str(tmp_path),
            '--objective', 'mse', '--sampler-seed', '1']
    process, seen = start_search(*args), []
    read_until(process, r'^trial 0: epoch 2/', seen)
    process.send_signal(signal.SIGINT)
    seen += process.stdout.readlines()
    assert process.wait(60) == 128 + signal.SIGINT, ''.join(seen)
    assert 'Traceback' not in ''.join(seen)
    study = study_of(tmp_path, 'autoencoder-digits-mse')
    assert not trials(study, S.RUNNING)  # consistent: the stopped trial failed, queued again
    failed, = trials(study, S.FAIL)
    waiting, = trials(study, S.WAITING)
    assert waiting.params == failed.params
    snapshot, = [f for f in os.listdir(tmp_path / 'digits') if f.endswith('snapshot.npz')]
    again = run_script('search.py', *args, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f'resumed from {tmp_path / "digits" / snapshot}' in again.stdout
    study = study_of(tmp_path, 'autoencoder-digits-mse')
    assert len(trials(study, S.COMPLETE)) == 2 and not trials(study, S.RUNNING, S.WAITING)
    retried = next(t for t in trials(study, S.COMPLETE) if t.params == failed.params)
    assert retried.system_attrs['failed_trial'] == failed.number


@full
def test_a_trial_whose_run_another_process_trains_waits_and_ctrl_c_still_stops_it(tmp_path):
    """The run of the trial's settings is held by a command typed by hand: the trial waits for
    it, saying who holds it; Ctrl-C meanwhile stops the search at once, the run left alone."""
    settings = dict(activate='sigmoid', dropout_ratio=0., corruption_ratio=0., n_hidden=64,
                    optimizer='Adam', epoch=30)
    storage = f'sqlite:///{tmp_path / "search.db"}'
    study = optuna.create_study(study_name='held', storage=storage,
                                directions=['minimize'])
    study.set_user_attr('search', dict(script='autoencoder.py', dataset='digits', objective='mse',
                                       fixed=dict(batchsize=1, split='validation')))
    study.enqueue_trial(dict(settings, **{'lr (Adam)': .003}))
    holder = subprocess.Popen(script_command(
        'autoencoder.py', '--dataset', 'digits', '--split', 'validation', '--batchsize', '1',
        '--out', str(tmp_path), '--lr', '0.003', *(f'--{k.replace("_", "-")}={v}' for k, v in
                                                    settings.items())),
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        for line in holder.stdout:
            if line.startswith('epoch 1/'):
                break
        process, seen = start_search('autoencoder.py', '--dataset', 'digits', '--n-trials', '1',
                                     '--out', str(tmp_path), '--objective', 'mse',
                                     '--study-name', 'held', '--batchsize', '1'), []
        read_until(process, rf'^trial 0: waiting: \S+ is being trained by process {holder.pid} ',
                   seen)
        process.send_signal(signal.SIGINT)
        seen += process.stdout.readlines()
        assert process.wait(60) == 128 + signal.SIGINT, ''.join(seen)
        assert holder.poll() is None  # the holder trains on, untouched
    finally:
        holder.kill()
        holder.communicate()


def child_pids(pid):
    with open(f'/proc/{pid}/task/{pid}/children') as f:
        return [int(p) for p in f.read().split()]


@pytest.mark.skipif(not os.path.exists('/proc/self/task'), reason='reads /proc (Linux)')
@full
def test_a_worker_killed_mid_trial_has_its_trial_failed_and_retried_by_another(tmp_path):
    process, seen = start_search('autoencoder.py', '--dataset', 'digits', '--n-trials', '4',
                                 '--out', str(tmp_path), '--jobs', '2', '--heartbeat', '1',
                                 '--objective', 'mse'), []
    victim = None
    while victim is None:  # the other worker (this process is the first), amid a run
        read_until(process, r'^trial \d+: epoch 2/', seen)
        victim = next((w for w in child_pids(process.pid) if 'search.py' in
                       open(f"/proc/{w}/cmdline").read() and child_pids(w)), None)
    os.kill(victim, signal.SIGKILL)
    seen += process.stdout.readlines()
    assert process.wait(300) == 0, ''.join(seen)
    study = study_of(tmp_path, 'autoencoder-digits-mse')
    assert len(trials(study, S.COMPLETE, S.PRUNED)) >= 4 and not trials(study, S.RUNNING)
    failed = trials(study, S.FAIL)
    assert failed and all(any(t.system_attrs.get('failed_trial') == f.number
                              for t in trials(study, S.COMPLETE, S.PRUNED)) for f in failed)
    assert 'was killed (SIGKILL)' in ''.join(seen)


@full
def test_two_workers_on_one_postgresql_study_share_it(tmp_path, postgres_url):
    args = ['autoencoder.py', '--dataset', 'digits', '--n-trials', '4', '--objective', 'mse',
            '--storage', postgres_url, '--study-name', f'shared-{os.getpid()}']
    workers = [start_search(*args, '--out', str(tmp_path / name)) for name in ('a', 'b')]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = optuna.load_study(study_name=f'shared-{os.getpid()}',
                              storage=search.study.open_storage(postgres_url, 60))
    finished = trials(study, S.COMPLETE, S.PRUNED)
    assert 4 <= len(finished) <= 5 and not trials(study, S.RUNNING)  # never more than 1 past
    ran = [set(re.findall(r'^trial (\d+): data:', out, re.M)) for out in outputs]
    assert ran[0] and ran[1] and not ran[0] & ran[1]  # both worked, never on the same trial
    assert {t.number for t in finished} == set(map(int, ran[0] | ran[1]))


@pytest.mark.parametrize('args, message', [
    (['nothing.py'], "argument script: invalid choice: 'nothing.py'"),
    (['autoencoder.py', '--objective', 'accuracy'], "argument --objective: invalid choice"),
    (['autoencoder.py', '--n-trials', '0'], '--n-trials must be an integer >= 1, got 0'),
    (['autoencoder.py', '--storage', 'not a url'], "storage: 'not a url' is not a database URL"),
    (['autoencoder.py', '--storage', 'postgresql://nobody:secret@127.0.0.1:9/none'],
     'storage: cannot open postgresql://nobody:***@127.0.0.1:9/none: (psycopg.OperationalError) '
     'connection failed'),
    (['autoencoder.py', '--activate', 'relu'], '--activate is searched'),
    (['autoencoder.py', '--split', 'official'], '--split: not an option of a search'),
    (['autoencoder.py', '--n-hiden', '5'], 'autoencoder.py: unrecognized arguments: --n-hiden 5'),
    (['autoencoder.py', '--momentum-max', '.9'],  # fixed, but the space has optimizers without
     "with {'optimizer': 'Adam', 'activate': 'sigmoid'}: --momentum-max: Adam has no momentum"),
    (['deep_autoencoder.py', '--batchsize', '-1'],
     'deep_autoencoder.py: --batchsize must be an integer >= 1, got -1'),
    (['deep_autoencoder.py', '--split-seed', '-2'],  # once a traceback of scikit-learn's
     'deep_autoencoder.py: --split-seed must be an integer >= 0, got -2'),
])
def test_bad_input_is_one_line_and_exit_status_2_before_anything_is_written(tmp_path, args,
                                                                             message):
    out = run_script('search.py', *args, '--dataset', 'digits', '--out', str(tmp_path / 'o'))
    assert out.returncode == 2 and out.stdout == '', out.stderr
    assert message in out.stderr and len(out.stderr.splitlines()) <= 2, out.stderr
    assert 'Traceback' not in out.stderr and 'secret' not in out.stderr
    assert not (tmp_path / 'o' / 'search.db').exists()


def test_the_search_experiment_says_its_own_name_in_its_messages():
    out = run_script('reproduce.py', '--experiment', 'search', '--n-trials', '0', '--dataset',
                     'digits')
    assert out.returncode == 2 and out.stderr.startswith('reproduce.py: error: --n-trials must '
                                                         'be an integer >= 1, got 0'), out.stderr



@pytest.mark.parametrize('space, message', [
    (dict(dropout=(0., .5)), "SPACES['autoencoder.py']['dropout']: autoencoder.py has no "
                             "option 'dropout' to search"),
    (dict(dropout_ratio=(.5, .1)), "the range (0.5, 0.1) is empty (0.5 > 0.1)"),
    (dict(activate=[]), "['activate']: no choices"),
    (dict(activate=['sigmoid', 'swish']), "activate must be one of"),
    (dict(n_hidden=(0, 10, 'log')), "is not (low, high), (low, high, step > 0) or (low, high, "
                                    "'log') with low > 0"),
    (dict(lr=dict(Adam=(1e-4, 1e-2))), 'ranges by value are for lr, pretrain_epoch, with the '
                                       'option each depends on (optimizer, no_pretraining)'),
    (dict(optimizer=['Adam'], lr=dict(SGD=(1e-4, 1e-2))), "'SGD' is not one of the optimizer"),
])
def test_a_bad_search_space_is_named_before_any_trial(tmp_path, monkeypatch, capsys, space,
                                                      message):
    monkeypatch.setitem(search.SPACES, 'autoencoder.py', space)
    with pytest.raises(SystemExit) as stop:
        search.main(['autoencoder.py', '--dataset', 'digits', '--out', str(tmp_path)])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / 'search.db').exists()


@full  # a search in a child process: not quick
def test_a_study_made_for_other_settings_is_refused(tmp_path):
    storage = f'sqlite:///{tmp_path / "s.db"}'
    optuna.create_study(study_name='x', storage=storage).set_user_attr(
        'search', dict(script='autoencoder.py', dataset='digits', objective='mse',
                       fixed=dict(split='validation')))
    out = run_script('search.py', 'autoencoder.py', '--dataset', 'digits', '--storage', storage,
                     '--study-name', 'x', '--out', str(tmp_path))
    assert out.returncode == 2
    assert "study 'x' in this storage was made for objective 'mse', not 'both'" in out.stderr
    assert not trials(optuna.load_study(study_name='x', storage=storage))


@full
def test_the_dashboard_serves_a_study(tmp_path):
    """optuna-dashboard (make dashboard-setup; .ci/run installs it) on a loopback port gives
    a study back through its API."""
    import socket
    import urllib.request
    if subprocess.run([sys.executable, '-c', 'import optuna_dashboard']).returncode:
        if os.environ.get('CI'):
            pytest.fail('optuna-dashboard is not installed (make dashboard-setup)')
        pytest.skip('optuna-dashboard is not installed (make dashboard-setup)')
    storage = f'sqlite:///{tmp_path / "s.db"}'
    study = optuna.create_study(study_name='looked-at', storage=storage)
    study.add_trial(optuna.trial.create_trial(value=.5, params={'x': 1.},
                    distributions={'x': optuna.distributions.FloatDistribution(0, 2)}))
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    dashboard = os.path.join(os.path.dirname(sys.executable), 'optuna-dashboard')
    server = subprocess.Popen([dashboard, '--host', '127.0.0.1', '--port', str(port), storage],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stderr:  # it says when it listens
            if f':{port}' in line:
                break
        for _ in range(600):  # Bottle says so just before it binds: wait for the port to open
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except ConnectionRefusedError:
                time.sleep(.05)
        get = lambda path: json.load(urllib.request.urlopen(  # noqa: E731
            f'http://127.0.0.1:{port}/api/{path}', timeout=30))
        summary, = get('studies')['study_summaries']
        assert summary['study_name'] == 'looked-at'
        trial, = get(f'studies/{summary["study_id"]}')['trials']
        assert trial['values'] == [.5] and trial['params'][0]['name'] == 'x'
    finally:
        server.terminate()
        server.wait(30)


def test_the_findings_order_two_settings_only_beyond_their_spread():
    from lab import report
    from lab.experiments import search as experiment
    rows = [dict(letter=letter, label=label, command='', mse=report.spread(mse),
                 probe=report.spread(probe)) for letter, label, mse, probe in (
        ('A', 'low', [.010 + d for d in (0, .0001, .0002, .0001, 0)],
         [.95 + d for d in (0, .0001, .0002, .0001, 0)]),
        ('B', 'near', [.0101 + d for d in (0, .0003, .0001, .0002, .0004)],
         [.96 - d for d in (0, .0003, .0001, .0002, .0004)]),
        ('C', 'high', [.020 + d for d in (0, .0001, .0002, .0001, 0)],
         [.90 + d for d in (0, .0001, .0002, .0001, 0)]))]
    page = report.render('search.md.j2', header=dict(
        command='c', training=60, machine='m', versions='v', study='s', trials=60, retrained=15),
        dataset='digits', seeds=[1, 2, 3, 4, 5], rows=rows, rho=[-.5, .001],
        findings=experiment.findings(rows), prefix='', brief=True)
    lines = page.split('### What the numbers say')[1].strip().split('\n')
    mse, probe, relation = lines[1:4]
    assert mse.startswith('- **Test MSE**: A (low) has the lowest mean; better than C beyond '
                          'the spread; not distinguishable from B.')
    assert probe.startswith('- **Probe accuracy**: B (near) has the highest mean; better than '
                            'A, C beyond the spread.')
    assert 'is -0.50 (Spearman; p = 0.001): a lower error goes with a higher accuracy' in relation
    assert 'lowest test MSE is A, that of the highest probe accuracy B, and the two differ ' \
           'beyond the spread on probe accuracy. So here the lowest reconstruction error did ' \
           'not give the most linearly separable code.' in relation


@full
def test_the_deep_autoencoder_is_searched_with_its_sizes_and_pretraining(tmp_path):
    out = run_script('search.py', 'deep_autoencoder.py', '--dataset', 'digits', '--n-trials',
                     '2', '--out', str(tmp_path), '--sampler-seed', '3', timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    for trial in trials(study_of(tmp_path, 'deep_autoencoder-digits-both')):
        options, command = trial.user_attrs['options'], trial.user_attrs['command']
        sizes = ' '.join(map(str, options['n_hidden_layers']))
        assert f'--n-hidden-layers {sizes}' in command and trial.params['n_hidden_layers'] == sizes
        assert ('pretrain_epoch' in trial.params) == (not options['no_pretraining'])
        assert trial.state == S.COMPLETE and 0 < trial.values[1] <= 1


@full
def test_the_search_experiment_runs_the_study_retrains_its_front_and_renders_from_its_json(
        tmp_path, monkeypatch):
    import reproduce
    from lab import report
    monkeypatch.chdir(tmp_path)  # its default folder, results/search-digits, is relative
    assert reproduce.main(['--experiment', 'search', '--quick', '--n-trials', '3', '--jobs',
                           '2', '--out', str(tmp_path / 'out')]) == 0
    recorded = json.loads((tmp_path / 'out' / 'search.json').read_text())
    page = (tmp_path / 'out' / 'search.md').read_text()
    assert page == '# What the search found\n\n' + report.render(
        'search.md.j2', **recorded, prefix='', brief=False)
    assert recorded['header']['trials'] == 3 and recorded['seeds'] == [1, 2]
    labels = [r['label'] for r in recorded['rows']]
    assert labels[-2].startswith("the original's best") and labels[-1].startswith('`make run`')
    for c in recorded['chosen']:
        assert (tmp_path / 'out' / c['picture']).exists()
