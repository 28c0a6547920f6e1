"""reproduce.py --quick: the whole grid, tiny, on the bundled digits; serial and parallel agree."""
import json
import os
import re

import numpy as np
import pytest
from conftest import full, needs_mnist, run_files

import reproduce
from lab import files, machine, report
from lab.experiments import grid, hinton
from lab.experiments import search as search_experiment
from lab import runs
import utils
from lab.options import ConfigError


def table_rows(readme):
    """The table rows, without the timing columns."""
    lines = readme.splitlines()
    return [re.sub(r'\| [0-9.]+ \| [0-9.]+ \| ([0-9.]+%) \|$', r'| - | - | \1 |',
                   re.sub(r'\| [0-9.]+ \|$', '| - |', line))
            for line in lines if line.startswith('|')]


@pytest.fixture(scope='module')
def quick_runs(tmp_path_factory):
    outs = []
    for jobs in ('1', '2'):
        out = tmp_path_factory.mktemp(f'jobs{jobs}')
        device = ['--device', '@numpy'] if jobs == '2' else []  # the default, named
        assert reproduce.main(['--quick', '--seeds', '2', '--jobs', jobs, '--out', str(out),
                               *device]) == 0
        outs.append(out)
    return outs


@full
def test_quick_writes_every_picture_and_the_table(quick_runs):
    out = quick_runs[0]
    readme = (out / 'README.md').read_text()
    assert 'Data: **digits** from `sklearn.datasets.load_digits`: 1,797 images' in readme
    pictures = re.findall(r'<img src="([^"]+)"', readme)
    assert len(pictures) == 3 + 3 + 3 + 2 * 3  # make run, activations, epochs, two deep x 3
    assert all((out / p).exists() for p in pictures)
    assert pictures[:3] == [f'alg=AdaDelta_epoch=20_corp=30drop=10activate=relu_nhidden=100{s}'
                            for s in ('enc.png', 'dec.png', 'reconstruction.png')]
    # labelled for what it ran: the digits' own commands, PCA-64 (all their pixels), no
    # comparison with the paper's MNIST numbers, seconds of training rather than 0.0 minutes
    assert 'Commands (the 8x8 digits bundled with scikit-learn' in readme and 'MNIST_DIR' not in readme
    assert 'PCA-100' not in readme and re.search(r'against [0-9.]+% for PCA-64\b', readme)
    assert 'Hinton' not in readme and re.search(r'runs, [0-9.]+ seconds of training in all', readme)
    rows = table_rows(readme)
    assert sum(' | activations | ' in r for r in rows) == 3
    assert sum(bool(re.match(r'\| \d+ \| epochs \|', r)) for r in rows) == 2
    assert sum('plain reconstruction' in r for r in rows) == 2
    assert any(r.startswith('| linear tied autoencoder, k = 100 |') for r in rows)
    assert len(re.findall(r'^\d+\. `OPENBLAS_NUM_THREADS=1 python (deep_)?autoencoder\.py '
                          r'--dataset digits ', readme, re.M)) == 6 + 2 + 4
    for row in rows:
        if ' | activations | ' in row:
            test_mse, pca = (row.split('|')[i].split(' ± ') for i in (8, 10))
            assert 0 < float(test_mse[0]) < 0.2 and 0 < float(test_mse[1]) < float(test_mse[0])
            pca, = map(float, pca)  # PCA does not depend on the seed
            assert pca == 0  # the digits have 64 pixels: PCA-100 keeps all 64 and is exact
    data, _ = utils.load_mnist(dataset='digits', seed=1)
    centred = data[0] - data[0].mean(axis=0)  # PCA-25 by hand: the top 25 right singular vectors
    v = np.linalg.svd(centred, full_matrices=False)[2][:25]
    test = data[1] - data[0].mean(axis=0)
    pca25 = np.mean(np.square(test - test @ v.T @ v))
    assert f'PCA-25 ({pca25:.5f})' in readme


@full
def test_serial_and_parallel_give_the_same_numbers_and_pictures(quick_runs):
    serial, parallel = quick_runs
    assert table_rows((serial / 'README.md').read_text()) == \
        table_rows((parallel / 'README.md').read_text())
    pngs = sorted(f for f in os.listdir(serial) if f.endswith('.png'))
    assert pngs == sorted(f for f in os.listdir(parallel) if f.endswith('.png'))
    for name in pngs:
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name


def test_readme_section_is_replaced_between_the_markers(tmp_path):
    path = tmp_path / 'README.md'
    start, end = grid.README_MARKERS
    path.write_text(f'# x\n{start}\nold\n{end}\nafter\n')
    files.write_between_markers(str(path), 'new table\n', grid.README_MARKERS)
    assert path.read_text() == f'# x\n{start}\nnew table\n{end}\nafter\n'
    path.write_text('no markers')
    with pytest.raises(ConfigError, match='no <!-- results:start -->'):
        files.write_between_markers(str(path), 'x', grid.README_MARKERS)


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
def test_progress_lines_name_each_run_as_it_starts_and_ends(quick_runs, capsys):
    out = quick_runs[0]  # serial: the lines come from this process
    assert reproduce.main(['--quick', '--seeds', '2', '--jobs', '1', '--out', str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    starts = [line for line in lines if line.startswith('start ')]
    ends = [line for line in lines if line.startswith('done  ')]
    n = len(grid.grid(quick=True, n_seeds=2)) + 3  # and the three baselines
    assert len(starts) == len(ends) == n
    assert starts[0].endswith(f'(run 1 of {n})') and ends[-1].endswith('s; 0 runs left')
    assert ends[-2].endswith(' s; 1 run left')
    assert any(line.startswith('start linear: ') and '--activate identity --tied' in line
               for line in starts)
    progress = [line[:5] for line in lines if line.startswith(('start ', 'done  '))]
    assert progress == ['start', 'done '] * n  # one job: each run ends before the next starts


def comparison(linear, pca):
    """The report's words on the linear autoencoder against PCA (templates/_macros.md.j2)."""
    macros = report.environment().get_template('_macros.md.j2').module
    return str(macros.linear_comparison(grid.comparison(linear, pca)))


def test_linear_comparison_finds_the_epoch_it_converged_to_pca():
    components = np.eye(6)[:3]  # PCA's subspace: the first three axes
    rotated = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))[0] @ components
    pca = dict(k=3, components_used=3, test_mse=1.0, components=components,
               variances=np.array([3., 2., 1.]))
    linear = dict(test_curve=[1.2, 1.004, 1.006, 1.003, 1.002], weights=2 * rotated)
    text = comparison(linear, pca)
    assert 'converged to PCA at epoch **4**' in text  # epoch 2 is within 0.5%, epoch 3 not
    assert '| 4 (converged) | 1.00300 | +0.30% |' in text
    assert 'principal angles between the span of its 100 weight rows and PCA\'s 100 components ' \
           'is 1.0000 (1 = the same subspace), the largest angle 0.0 degrees' in text
    linear['test_curve'][-1] = 1.006  # 0.6% above PCA at the end: not within 0.5%
    assert 'did not converge within 5 epochs' in comparison(linear, pca)
    linear.update(test_curve=[1.002] * 5, weights=np.eye(6)[3:])  # the error alone decides
    assert 'is 0.0000 (1 = the same subspace), the largest angle 90.0 degrees' in \
        comparison(linear, pca)


def test_the_angles_are_explained_by_which_of_pcas_directions_the_weights_span():
    components, variances = np.eye(6)[:3], np.array([3., 2., 1.])
    pca = dict(k=3, components_used=3, test_mse=1.0, components=components, variances=variances)
    weights = np.eye(6)[[0, 1, 4]] + .01 * np.eye(6)[[1, 0, 2]]  # the first two axes, not the third
    text = comparison(dict(test_curve=[1.0], weights=weights), pca)
    assert "PCA's first 2 components lie in its span (cos^2 >= 0.99), while the 1 component it " \
           "misses carries only 16.7% of the variance PCA-3 keeps" in text
    text = comparison(dict(test_curve=[1.0], weights=np.eye(6)[[2, 1, 0]]), pca)
    assert "PCA's first 3 components lie in its span (cos^2 >= 0.99): all of them." in text


@full
def test_hinton_quick_writes_the_table_beside_the_papers_and_the_figures(tmp_path, capsys):
    args = ['--experiment', 'hinton', '--quick', '--out', str(tmp_path)]
    assert reproduce.main(args) == 0
    text = (tmp_path / 'hinton.md').read_text()
    rows = table_rows(text)
    assert rows[2].startswith('| | Hinton & Salakhutdinov 2006: deep autoencoder (RBMs, conjugate '
                              'gradients) | 0.00383 | **3.00** |')
    assert rows[3].startswith('| | Hinton & Salakhutdinov 2006: PCA-30 | 0.01769 | 13.87 |')
    ours = [r for r in rows if '| **ours**' in r]
    labels = [r.split(' | ')[1] for r in ours]
    # what was tried on the validation split: the bold row of each group has its lowest error
    tried = [r.split(' | ') for r in rows if re.match(r'\| \d+ \| \**(regulariser|learning rate):', r)]
    assert len(tried) == len(hinton.REGULARISERS) + len(hinton.LEARNING_RATES)
    best = {}
    for group in ('regulariser', 'learning rate'):
        cells = [c for c in tried if c[1].strip('*').startswith(group)]
        bold = [c for c in cells if c[1].startswith('**')]
        assert len(bold) == 1 and float(bold[0][2]) == min(float(c[2]) for c in cells)
        best[group] = bold[0][1].strip('*').split(': ', 1)[1]
    regularised = [] if best['regulariser'] == 'none' else [
        f'**ours**: deep autoencoder, pretrained, {best["regulariser"]}']
    assert labels == ['**ours**: deep autoencoder, pretrained', *regularised,
                      '**ours**: deep autoencoder, random initial weights',
                      '**ours**: deep autoencoder, sparse initial weights, Nesterov momentum',
                      '**ours**: deep autoencoder with a 2-d code, pretrained']
    assert [r.split(' | ')[4] for r in ours] == ['1', *(['1'] * len(regularised)), 'none', 'none',
                                                 '1']
    # the chosen settings trained as the table's networks: the same command on the rows' split
    commands = dict(re.findall(r'^(\d+)\. `(.*)`$', text, re.M))
    by_label = {r.split(' | ')[1].replace('*', ''): r.split(' | ')[0].strip('| ')
                for r in rows if re.match(r'\| \d+ \|', r)}
    if regularised:
        candidate = commands[by_label[f'regulariser: {best["regulariser"]}']]
        assert (commands[by_label[regularised[0].replace('*', '')]]
                == candidate.replace(' --split-seed 2', ''))
    sparse = commands[by_label['ours: deep autoencoder, sparse initial weights, Nesterov momentum']]
    lr = best['learning rate'].split()[-1]
    assert f'--optimizer NesterovAG --lr {lr} ' in sparse and '--init sparse' in sparse
    assert '--finetune-epoch 2 ' in sparse and '--split-seed' not in sparse
    assert 'Not comparable with the paper' in text  # 64-pixel digits
    for picture in re.findall(r'<img src="([^"]+)"', text):
        assert (tmp_path / picture).exists(), picture
    assert {'hinton_reconstructions.png', 'hinton_codes.png', 'hinton_curves.png'} <= set(
        re.findall(r'<img src="([^"]+)"', text))
    data, _ = utils.load_mnist(dataset='digits', seed=1)
    mean = data[0].mean(axis=0)
    v = np.linalg.svd(data[0] - mean, full_matrices=False)[2][:30]  # PCA-30 by hand
    test = data[1] - mean
    pca30 = np.mean(np.square(test - test @ v.T @ v))
    assert any(r.startswith(f'| | ours: PCA-30 | {pca30:.5f} |') for r in rows)
    # run again: every network is read from its result, the same table comes out
    capsys.readouterr()
    assert reproduce.main(args) == 0
    assert capsys.readouterr().out.count('done before, read back from') == len(ours) + len(tried)
    assert table_rows((tmp_path / 'hinton.md').read_text()) == rows
    # the page is its template filled from the results recorded beside it (hinton.json)
    recorded = json.loads((tmp_path / 'hinton.json').read_text())
    assert (tmp_path / 'hinton.md').read_text() == (
        "# Hinton & Salakhutdinov's deep autoencoder\n\n"
        + report.render('hinton.md.j2', **recorded, prefix=''))


@full
def test_a_rows_command_gives_the_rows_numbers_exactly(quick_runs, tmp_path):
    """The command printed under a table, typed as it stands, writes the same run as the
    one reproduce.py made for that row."""
    import json
    import shlex
    import subprocess
    import sys
    from conftest import ROOT
    out = quick_runs[0]
    readme = (out / 'README.md').read_text()
    first = re.search(r'^1\. `(.*)`$', readme, re.M).group(1)
    env_words, rest = first.split(' python ')
    env = dict(os.environ, **dict(w.split('=') for w in env_words.split()))
    args = shlex.split(rest)
    r = subprocess.run([sys.executable, *args, '--out', str(tmp_path)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    [mine] = [f for f in os.listdir(tmp_path / 'digits') if f.endswith('run.json')]
    theirs = out / 'runs' / 'digits' / mine  # the same name: the same run
    a, b = (json.loads(p.read_text()) for p in (tmp_path / 'digits' / mine, theirs))
    assert a['loss_values'] == b['loss_values'] and a['test_loss_values'] == b['test_loss_values']
    # the row: this run and the same command with --seed 2, their mean and sample deviation
    seed2 = json.loads((out / 'runs' / 'digits' / mine.replace('_nhidden=100', '_nhidden=100_seed=2'))
                       .read_text())['test_loss_values'][-1]
    mean, sd = np.mean([a['test_loss_values'][-1], seed2]), np.std(
        [a['test_loss_values'][-1], seed2], ddof=1)
    row = next(line for line in readme.splitlines() if line.startswith('| 1 | activations |'))
    assert f'| {mean:.5f} ± {sd:.5f} |' in row


def test_a_finished_run_is_read_back_and_an_interrupted_one_resumed(tmp_path, reworded):
    """script_run reads a run that finished with the same arguments, and continues one that
    a signal stopped from its snapshot, to the same end as a run never stopped."""
    import signal
    import subprocess
    import sys
    from conftest import ROOT
    options = dict(optimizer='Adam', activate='sigmoid', epoch=2, batchsize=1)
    reference = runs.script_run(grid.AE, options, 'digits', str(tmp_path / 'a'), False)
    again = runs.script_run(grid.AE, options, 'digits', str(tmp_path / 'a'), False)
    assert not reference['cached'] and again['cached'] and again['record'] == reference['record']

    args = runs.command_line(grid.AE.name, options, 'digits')
    p = subprocess.Popen([sys.executable, '-u', args[0], *args[1:], '--out', str(tmp_path / 'b')],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith('Durchgang 1/2'):  # 'epoch 1/2', reworded
            p.send_signal(signal.SIGINT)
            break
    p.communicate(timeout=60)
    assert p.returncode == 130
    assert [f.endswith('snapshot.npz') for f in run_files(tmp_path / 'b' / 'digits')] == [True]
    resumed = runs.script_run(grid.AE, options, 'digits', str(tmp_path / 'b'), False)
    assert resumed['record']['test_loss_values'] == reference['record']['test_loss_values']
    assert not any(f.endswith('snapshot.npz') for f in os.listdir(tmp_path / 'b' / 'digits'))


def test_a_run_another_process_trains_is_waited_for_and_read_back_never_trained_twice(
        tmp_path, capsys):
    import subprocess
    import sys

    from conftest import ROOT
    options = dict(optimizer='Adam', epoch=3, batchsize=1)
    args = runs.command_line(grid.AE.name, options, 'digits')
    p = subprocess.Popen([sys.executable, '-u', args[0], *args[1:], '--out', str(tmp_path)],
                         cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in p.stdout:  # its lock is held from before its first epoch
        if line.startswith('epoch 1/3'):
            break
    row = runs.script_run(grid.AE, options, 'digits', str(tmp_path), False, tag='row')
    out = capsys.readouterr().out
    assert f'row: waiting: {row["name"]} is being trained by process {p.pid} on ' in out
    assert row['cached'] and 'read back' in out and 'row: epoch' not in out  # not trained again
    assert p.wait(60) == 0 and len(row['record']['loss_values']) == 3


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


@needs_mnist
def test_an_mnist_rows_command_gives_its_numbers_exactly(tmp_path):
    """One cheap MNIST row (one epoch of the original's single autoencoder, Adam): the run
    reproduce.py makes and its printed command typed as it stands agree to the last bit."""
    import json
    import shlex
    import subprocess
    import sys
    from conftest import ROOT
    options = dict(optimizer='Adam', activate='sigmoid', epoch=1)
    row = runs.script_run(grid.AE, options, 'mnist', str(tmp_path / 'a'), False)
    env_words, rest = row['command'].split(' python ')
    env = dict(os.environ, **dict(w.split('=') for w in env_words.split()))
    r = subprocess.run([sys.executable, *shlex.split(rest), '--out', str(tmp_path / 'b')],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    mine = json.loads((tmp_path / 'b' / 'mnist' / (row['name'] + 'run.json')).read_text())
    assert mine['test_loss_values'] == row['record']['test_loss_values']
    assert mine['loss_values'] == row['record']['loss_values']
    assert mine['dataset']['n_train'] == 52500


def test_a_run_recorded_before_an_option_existed_is_found_with_its_default(tmp_path):
    import json
    options = dict(optimizer='Adam', finetune_epoch=3)
    arguments = dict(grid.DEEP.defaults, **options, dataset='digits', out=str(tmp_path))
    older = {k: v for k, v in arguments.items() if k not in ('init', 'momentum_max')}
    (tmp_path / 'digits').mkdir()
    (tmp_path / 'digits' / 'oldrun.json').write_text(json.dumps(dict(arguments=older)))
    found = lambda a: runs.find_run(str(tmp_path / 'digits'), a, 'run.json',  # noqa: E731
                                         grid.DEEP)
    assert found(arguments) == 'old'
    assert found(dict(arguments, init='sparse')) is None  # not what it ran with
    assert found(dict(arguments, finetune_epoch=4)) is None
    # a run made with the README's command (--out results) is found under the full path
    assert found(dict(arguments, out='results')) == 'old'


def test_the_choice_is_the_lowest_final_validation_error_and_never_a_diverged_run():
    def run(label, error, group='learning rate'):
        return dict(kind='validation', group=group, label=label, error=error)
    results = [run('a', .02), run('b', float('nan')), run('c', .01), run('d', .001, 'regulariser'),
               dict(kind='pca', error=0.)]
    assert hinton.chosen(results, 'learning rate')['label'] == 'c'
    assert hinton.chosen(results, 'regulariser')['label'] == 'd'


def test_the_results_pages_are_the_template_rendered_from_the_recorded_results():
    """figures/README.md and the README's results block are templates/grid.md.j2 filled from
    figures/results.json, which reproduce.py wrote beside them: the words and the layout live
    in the template, every number in the results."""
    from conftest import ROOT
    with open(os.path.join(ROOT, 'figures', 'results.json')) as f:
        recorded = json.load(f)
    page, blocks = grid.grid_pages(recorded)
    with open(os.path.join(ROOT, 'figures', 'README.md')) as f:
        assert f.read() == page
    assert sorted(blocks) == ['README.ja.md', 'README.md']
    for readme, body in blocks.items():
        with open(os.path.join(ROOT, readme)) as f:
            start, end = grid.README_MARKERS
            assert f.read().split(start + '\n', 1)[1].split(end, 1)[0] == body, readme
    assert recorded['data']['name'] == 'mnist' and len(recorded['singles']) == 6
    for number in (recorded['make_run']['test_mse'], recorded['singles'][0]['probe']):  # both tell
        assert all(f'{number:.5f}'[:7] in body or f'{100 * number:.1f}%' in body
                   for body in blocks.values())


def test_the_hinton_seeds_page_is_its_template_rendered_from_its_recorded_results():
    from conftest import ROOT
    with open(os.path.join(ROOT, 'figures', 'hinton_seeds.json')) as f:
        recorded = json.load(f)
    with open(os.path.join(ROOT, 'figures', 'hinton_seeds.md')) as f:
        assert f.read() == report.render('hinton_seeds.md.j2', **recorded)


def test_a_row_over_its_seeds_is_their_mean_and_sample_deviation_and_only_a_gap_beyond_it_counts():
    def run(seed, test, row=0):
        return dict(row=row, seed=seed, train_mse=test / 2, test_mse=test, probe=.9,
                    seconds=seed, test_curve=[test], pictures=[], command=f'c{seed}')
    rows = grid.over_seeds([run(3, .0103), run(1, .0101), run(2, .0102),
                                 run(1, .0110, row=1), run(2, .0111, row=1), run(3, .0112, row=1)])
    a, b = rows
    assert a['command'] == 'c1' and a['seeds'] == [1, 2, 3]  # the script's own seed's run
    assert a['test_mse'] == pytest.approx(.0102) and a['test_mse_sd'] == pytest.approx(.0001)
    assert a['probe_sd'] == 0 and a['seconds'] == 2  # the median
    assert report.differ(a, b)  # .0102 + 2 sd = .0104 < .0110 - 2 sd = .0108
    b.update(test_mse=.0105)
    assert not report.differ(a, b)  # up to .0104 against down to .0103: they overlap
    one, = grid.over_seeds([run(1, .01)])
    assert one['test_mse_sd'] is None and report.differ(one, a) is None
    macros = report.environment().get_template('_macros.md.j2').module
    assert str(macros.versus('a', 'b', None)) == 'a and b: one seed, no spread to judge by'
    assert str(macros.versus('a', 'b', False)) == 'a and b not distinguishable'
    assert str(macros.versus('a', 'b', True, False)) == 'a higher than b beyond the spread'


def test_every_row_runs_with_the_scripts_own_seed_and_the_ones_after_it():
    planned = grid.grid(quick=False, n_seeds=3)
    assert len(planned) == 3 * len(grid.grid(quick=False, n_seeds=1))
    by_row = {}
    for label, group, script, options, row in planned:
        by_row.setdefault(row, []).append((script, options.get('seed')))
    for row in by_row.values():
        script = row[0][0]
        first = 1 if script is grid.AE else 71
        assert [seed for _, seed in row] == [None, first + 1, first + 2]  # the first as today


@pytest.mark.parametrize('readme', ['README.md', 'README.ja.md'])
def test_the_readmes_are_short_and_every_file_they_link_to_is_there(readme):
    from conftest import ROOT
    with open(os.path.join(ROOT, readme)) as f:
        text = f.read()
    lines, fenced, prose = text.split('\n'), False, []
    for line in lines:
        fenced ^= line.startswith('```')
        if not (fenced or line.startswith(('```', '|', '    ', '<'))):
            prose.append(line)
    if readme == 'README.md':  # Japanese has no spaces to break its lines at
        assert len(lines) <= 300 and max(map(len, prose)) <= 200
    links = re.findall(r'\]\(([^)#:]+)[)#]', text) + re.findall(r'<img src="([^"]+)"', text)
    assert 'docs/usage.md' in links and 'figures/README.md' in links
    missing = [link for link in links if not os.path.exists(os.path.join(ROOT, link))]
    assert not missing


@full
def test_hinton_seeds_quick_gives_each_main_row_over_its_seeds_with_mean_and_spread(tmp_path):
    assert reproduce.main(['--experiment', 'hinton-seeds', '--quick', '--out', str(tmp_path),
                           '--jobs', '2']) == 0
    recorded = json.loads((tmp_path / 'hinton_seeds.json').read_text())
    text = (tmp_path / 'hinton_seeds.md').read_text()
    assert text == report.render('hinton_seeds.md.j2', **recorded)
    assert [r['label'] for r in recorded['rows']] == [label for _, label, _ in hinton.SEEDED_ROWS]
    for row in recorded['rows']:
        tests = [s['test'] for s in row['seeds']]
        assert [s['seed'] for s in row['seeds']] == [71, 72]  # the script's own seed, the next
        assert row['mean'] == pytest.approx(np.mean(tests))
        assert row['sd'] == pytest.approx(np.std(tests, ddof=1))
        assert f'| **{row["label"]}: mean ± sd** | | **{row["mean"]:.2f} ± {row["sd"]:.2f}** |' \
            in text
        assert row['probe_sd'] == pytest.approx(np.std([s['probe'] for s in row['seeds']], ddof=1))
        here = machine.stack()
        assert {s['computed_on'] for s in row['seeds']} == {  # this machine, as its runs record it
            f'{here["cpu"]}, NumPy {np.__version__}, {here["blas"]["library"]} '
            f'({here["blas"]["core"]} kernel, 1 thread)'}  # every run of reproduce.py: one thread
        assert row['one_stack'] and '| one machine and stack |' in text
    assert '--weight-decay 3e-07`' in text and '--seed 7' not in text  # the table's own commands
    assert "Not comparable with the paper's numbers" in text and 'below the paper' not in text


def test_a_run_says_which_machines_it_was_computed_on_and_where_that_is_not_known():
    blas = dict(library='openblas', core='Zen')
    new = dict(cpu='CPU A', numpy='2.4.6', blas=dict(blas, threads=2))
    old = dict(numpy='1.26.4', blas=blas)
    assert machine.computed_on(dict(trained_on=[new], versions=new)) == \
        'CPU A, NumPy 2.4.6, openblas (Zen kernel, 2 threads)'
    assert machine.computed_on(dict(trained_on=[None, new], versions=new)) == \
        'not recorded, then CPU A, NumPy 2.4.6, openblas (Zen kernel, 2 threads)'  # resumed
    assert machine.computed_on(dict(versions=old)) == \
        'CPU not recorded, NumPy 1.26.4, openblas (Zen kernel)'  # a run.json from before


@full
def test_hinton_schedule_quick_chooses_on_validation_and_compares_by_the_rule(tmp_path):
    """The candidates on the validation split, the lowest final validation error chosen, the
    choice over seeds, compared with the row of hinton_seeds.json beside the page."""
    recorded_row = dict(role='regularised', label='pretrained, weight decay 3e-7', mean=9.0,
                        sd=.01, command='c', seeds=[dict(seed=s) for s in (71, 72, 73)])
    (tmp_path / 'hinton_seeds.json').write_text(json.dumps(dict(rows=[recorded_row])))
    assert reproduce.main(['--experiment', 'hinton-schedule', '--quick', '--out', str(tmp_path),
                           '--jobs', '2']) == 0
    recorded = json.loads((tmp_path / 'hinton_schedule.json').read_text())
    text = (tmp_path / 'hinton_schedule.md').read_text()
    assert text == report.render('hinton_schedule.md.j2', **recorded)  # again from its JSON
    candidates = recorded['candidates']
    assert [c['label'] for c in candidates] == ['weight decay 2e-07', 'weight decay 3e-07']
    chosen = min(candidates, key=lambda c: c['error'])
    assert [c['chosen'] for c in candidates] == [c is chosen for c in candidates]
    assert recorded['choice'] == chosen['label'] and 'split validation' not in recorded['command']
    tests = [s['test'] for s in recorded['seeds']]
    assert [s['seed'] for s in recorded['seeds']] == [71, 72]
    assert recorded['mean'] == pytest.approx(np.mean(tests))
    assert recorded['sd'] == pytest.approx(np.std(tests, ddof=1))
    assert recorded['today']['mean'] == 9.0  # read from hinton_seeds.json, not trained again
    mean, sd = recorded['mean'], recorded['sd']
    assert recorded['versus_today'] == (mean + 2 * sd < 9.0 - .02 or 9.0 + .02 < mean - 2 * sd)
    assert (tmp_path / recorded['curves']).exists()


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
                                               ('search', 'official')])
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
    monkeypatch.setattr(runs, 'run_process', lambda *a, **k: pytest.fail('a run was started'))
    # the search experiment measures after search.py's study, which here ends at once
    monkeypatch.setattr(search_experiment, 'run_process', lambda *a, **k: 0)
    with pytest.raises(Loaded) as loaded:
        reproduce.main(['--experiment', experiment, '--dataset', 'mnist', '--out', str(tmp_path)])
    assert str(loaded.value) == split
