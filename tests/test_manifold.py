"""reproduce.py --experiment manifold: the nearest-neighbour protocol, the prior's disc, and the
experiment on the digits end to end."""
import json

import numpy as np
import pytest
from conftest import full

import reproduce
from lab import report
from lab.experiments import manifold


def test_leave_one_out_neighbours_leave_each_code_out_of_its_own_vote():
    x = np.array([[0.], [1.], [2.], [10.], [11.], [30.]])
    labels = np.array([0, 0, 1, 1, 1, 0])
    # 1-NN: 0->1 (0, right), 1->0 or 2 (tie broken by the nearer index: 0, right), 2->1 (0,
    # wrong), 10->11 (right), 11->10 (right), 30->11 (1, wrong): 4 of 6.
    assert manifold.neighbours(x, labels, 1) == pytest.approx(4 / 6)
    # 5-NN, every other point votes: three 1s against two 0s for the 0s, two 1s against three
    # 0s for the 1s: every vote the wrong digit but for none.
    assert manifold.neighbours(x, labels, 5) == 0


def test_a_tie_goes_to_the_smallest_digit():
    x = np.array([[0.], [1.], [-1.], [100.]])
    labels = np.array([0, 0, 1, 1])
    # 2-NN: the first two points each have a 0 and a 1 among their neighbours (a tie, given to
    # 0: right); the last two have two 0s (wrong). Ties given to the largest digit would give 0.
    assert manifold.neighbours(x, labels, 2) == .5


def test_the_disc_holds_95_percent_of_the_prior():
    z = np.random.default_rng(0).standard_normal((200_000, 2))
    assert manifold.measures(z[:2000], np.zeros(2000, int))['sd'] == pytest.approx([1, 1], abs=.05)
    assert np.mean(np.hypot(*z.T) <= manifold.DISC) == pytest.approx(.95, abs=.002)


def test_the_candidates_differ_only_in_the_two_settings_chosen():
    (_, a), (_, b) = manifold.CANDIDATES
    assert a['n_hidden_layers'] == b['n_hidden_layers'] == [1000, 500, 250, 2]
    assert {k for k in a if a[k] != b[k]} == {'lr_decay', 'weight_decay'}
    assert a['finetune_epoch'] <= 200


@full
def test_manifold_quick_scores_the_four_methods_and_renders_from_its_json(tmp_path):
    assert reproduce.main(['--experiment', 'manifold', '--quick', '--out', str(tmp_path),
                           '--jobs', '2']) == 0
    recorded = json.loads((tmp_path / 'manifold.json').read_text())
    assert (tmp_path / 'manifold.md').read_text() == report.render('manifold.md.j2', **recorded)
    rows = {r['method']: r for r in recorded['rows']}
    assert list(rows) == ['PCA-2', 'deep autoencoder', 'VAE', 't-SNE', 'PCA-30', 'raw pixels']
    assert rows['deep autoencoder']['seeds'] == [71, 72] and rows['VAE']['seeds'] == [1, 2]
    assert rows['t-SNE']['seeds'] == [0, 1]
    for r in rows.values():
        assert 0 < r['knn1'] <= 1 and 0 < r['knn5'] <= 1
    assert rows['raw pixels']['knn1'] > rows['PCA-2']['knn1']  # two dimensions lose
    for name in ('manifold_codes.png', 'manifold_dae.png', 'manifold_vae.png'):
        assert (tmp_path / name).exists()
    assert len(recorded['findings']) == 2 * len(manifold.COMPARED)
    assert sum(c['chosen'] for c in recorded['candidates']) == 1
