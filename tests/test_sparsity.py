"""reproduce.py --experiment sparsity: the sparse autoencoder's rows over seeds, their code's
sparsity and their filters' locality, compared by the rule with the same activation without the
penalty."""
import json

import numpy as np
import pytest
from conftest import full

import reproduce
from lab import report
from lab.experiments import sparsity


def test_locality_is_the_share_of_a_filters_squared_weight_in_its_largest_tenth_of_pixels():
    stroke = np.zeros((1, 100))
    stroke[0, :10] = [3, -3, 2, 2, 1, 1, 1, 1, 1, 1]  # all of it in 10 pixels of 100
    half = np.zeros((1, 100))
    half[0, :20] = 1  # 20 equal pixels: the largest 10 hold half
    flat = np.ones((2, 100))
    assert sparsity.locality(stroke) == pytest.approx(1)
    assert sparsity.locality(half) == pytest.approx(.5)
    assert sparsity.locality(flat) == pytest.approx(.1)
    assert sparsity.locality(np.concatenate([stroke, half])) == pytest.approx(.75)


def test_the_strengths_run_at_the_grids_relu_and_sigmoid_settings():
    from lab.experiments.grid import AUTOENCODERS
    grid_rows = [o for _, o in AUTOENCODERS]
    assert [s['activate'] for s in sparsity.SETTINGS] == ['relu', 'sigmoid']
    assert all(s in grid_rows for s in sparsity.SETTINGS)  # sparsity 0: the grid's own runs
    assert sparsity.STRENGTHS == tuple(sorted(sparsity.STRENGTHS)) and 0 not in sparsity.STRENGTHS


@full
def test_sparsity_quick_gives_each_strength_over_its_seeds_and_renders_from_its_json(tmp_path):
    assert reproduce.main(['--experiment', 'sparsity', '--quick', '--out', str(tmp_path),
                           '--jobs', '2']) == 0
    recorded = json.loads((tmp_path / 'sparsity.json').read_text())
    assert (tmp_path / 'sparsity.md').read_text() == report.render('sparsity.md.j2', **recorded)
    rows = recorded['rows']
    assert [(r['activate'], r['sparsity']) for r in rows] == [
        (a, s) for a in ('relu', 'sigmoid') for s in (0, *sparsity.STRENGTHS)]
    for r in rows:
        assert r['seeds'] == [1, 2] and (tmp_path / r['pictures'][0]).exists()
        assert 0 <= r['zeros'] <= 1 and r['mean_abs'] >= 0 and .1 <= r['locality'] <= 1
        assert ('--sparsity' in r['command']) == (r['sparsity'] > 0)
    relu = [r for r in rows if r['activate'] == 'relu']
    assert relu[-1]['mean_abs'] < relu[0]['mean_abs']  # the strongest penalty shrinks the code
    assert len(recorded['findings']) == 2 * len(sparsity.STRENGTHS)
    first = recorded['findings'][0]
    assert first['test_mse']['apart'] == report.differ(relu[1], relu[0], 'test_mse')
