"""The original's grid (reproduce.py's default experiment, lab/experiments/grid.py): --quick on the
bundled digits, serial and parallel agree; its rows over seeds, the linear autoencoder against
PCA, its pages."""
import json
import os
import re

import numpy as np
import pytest
from conftest import full, table_rows

import reproduce
from lab import files, report
from lab.experiments import grid
import utils
from lab.options import ConfigError


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
