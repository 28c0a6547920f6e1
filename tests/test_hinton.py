"""Hinton & Salakhutdinov's network (lab/experiments/hinton.py, hinton_schedule.py): --quick end to
end, the choice on the validation split, the rows over seeds."""
import json
import os
import re

import numpy as np
import pytest
from conftest import full, table_rows

import reproduce
from lab import machine, report
from lab.experiments import hinton
import utils


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


def test_the_choice_is_the_lowest_final_validation_error_and_never_a_diverged_run():
    def run(label, error, group='learning rate'):
        return dict(kind='validation', group=group, label=label, error=error)
    results = [run('a', .02), run('b', float('nan')), run('c', .01), run('d', .001, 'regulariser'),
               dict(kind='pca', error=0.)]
    assert hinton.chosen(results, 'learning rate')['label'] == 'c'
    assert hinton.chosen(results, 'regulariser')['label'] == 'd'


def test_the_hinton_seeds_page_is_its_template_rendered_from_its_recorded_results():
    from conftest import ROOT
    with open(os.path.join(ROOT, 'figures', 'hinton_seeds.json')) as f:
        recorded = json.load(f)
    with open(os.path.join(ROOT, 'figures', 'hinton_seeds.md')) as f:
        assert f.read() == report.render('hinton_seeds.md.j2', **recorded)


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
