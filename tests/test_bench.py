"""The benchmark runs end to end on tiny sizes (how fast is its business, not the tests')."""
import importlib.util
import json
import os
import sys

import numpy as np
import pytest
from conftest import ROOT, full


def load_bench():
    spec = importlib.util.spec_from_file_location('bench', os.path.join(ROOT, 'benchmarks', 'bench.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


@full  # a minute of benchmark: not quick
@pytest.mark.parametrize('hide_peers, n_train, source', [(False, 300, 'real rows'),
                                                         (True, 2000, 'tiled')])
def test_benchmark_runs_and_writes_its_table(tmp_path, capsys, monkeypatch, hide_peers, n_train,
                                             source):
    if hide_peers:  # `import torch` and `import jax` raise ImportError
        monkeypatch.setitem(sys.modules, 'torch', None)
        monkeypatch.setitem(sys.modules, 'jax', None)
    bench = load_bench()
    bench.PAUSE = 0  # no pause between the timed runs: speed is not what is tested
    out, doc = tmp_path / 'bench.json', tmp_path / 'doc.md'
    doc.write_text('before\n<!-- bench:start -->\nold\n<!-- bench:end -->\nafter\n')
    bench.main(['--repeat', '1', '--n-train', str(n_train), '--n-train-deep', '200',
                '--memory-epochs', '1', '--dataset', 'digits', '--json', str(out),
                '--markdown', str(doc)])
    result = json.loads(out.read_text())
    rows = {r['row']: r for r in result['rows']}
    epochs = [row for row in rows if row.startswith('epoch (')]
    assert [row[:9] for row in epochs] == ['epoch (a)', 'epoch (b)', 'epoch (c)']
    assert {'evaluation of (a), train + test MSE', 'save_images, 784 tiles of 28x28'} <= rows.keys()
    assert rows['save_images, 784 tiles of 28x28']['original'] > 0  # the original's way, beside it
    assert ', openblas ' in result['versions'] and ' kernel)' in result['versions']
    assert all('floor' in rows[row] for row in epochs)
    assert [('numpy' in rows[row]) for row in epochs] == [True, True, False]  # one hidden layer
    has = {name: not hide_peers and importlib.util.find_spec(name) is not None
           for name in ('torch', 'jax')}
    assert all(('pytorch' in rows[row]) == has['torch'] for row in epochs)
    assert all(('jax_step' in rows[row] and 'jax_scan' in rows[row]) == has['jax'] for row in epochs)
    assert all(('ratio' in rows[row]) == any(has.values()) for row in epochs)
    peers = result['peer'].split('; ')
    assert peers[0].startswith('PyTorch 2' if has['torch'] else 'PyTorch skipped: torch not installed')
    assert peers[1].startswith('JAX 0' if has['jax'] else 'JAX skipped: jax or optax not installed')
    memory = result['memory']
    assert memory['data_bytes'] == (n_train + 450) * 64 * 4  # float32 train and test sets
    assert memory['peak_bytes'] >= memory['data_bytes']  # the run held them
    assert result['data'].startswith(f'digits: {n_train} training samples ({source}: 1347 training')
    assert result['data'].endswith('(c): 200 samples (real rows)')  # of the 1,797 digits
    assert 'ours/fastest' in capsys.readouterr().out
    text = doc.read_text()
    assert text.startswith('before\n<!-- bench:start -->\nProduced by `python benchmarks/bench.py')
    assert text.endswith('<!-- bench:end -->\nafter\n') and 'old' not in text
    for r in result['rows']:
        assert f'| {r["row"]} | {r["median"]:.3f} |' in text
    assert "The original's save_images, one matplotlib subplot per tile, took " in text
    table = [line for line in text.splitlines() if line.startswith('|')]
    assert len({line.count(' |') for line in table}) == 1  # header, rule and rows alike
    from lab import report  # the block is its template filled from the JSON beside the page
    recorded = json.loads((tmp_path / 'bench.json').read_text())
    assert text == ('before\n<!-- bench:start -->\n' + report.render(
        'bench.md.j2', os.path.join(ROOT, 'benchmarks', 'templates'), **recorded)
        + '<!-- bench:end -->\nafter\n')


def test_floor_counts_the_products_of_a_step():
    bench = load_bench()
    shapes = bench.layer_shapes(784, (100,))
    assert shapes == [(784, 100), (100, 784)]
    # forward 2 products, backward 3 (no gradient for the input): 5 x 2 x B x 784 x 100
    assert bench.step_flop(100, shapes) == 5 * 2 * 100 * 784 * 100
    assert bench.layer_shapes(784, (1000, 30)) == [(784, 1000), (1000, 30), (30, 1000), (1000, 784)]


@pytest.mark.parametrize('row', ['epoch (a)', 'epoch (c)'])
def test_the_jax_peer_is_our_model(row):
    """Given our weights, the JAX peer's eval-mode MSE is ours (same layers, activations and
    evaluation); one epoch of each, step by step and scanned, lowers it alike."""
    pytest.importorskip('jax')
    pytest.importorskip('optax')
    bench = load_bench()
    case = next(c for name, c in bench.CASES.items() if name.startswith(row))
    x = np.random.default_rng(0).random((400, 64), dtype=np.float32)
    ours = bench.Ours(x[:300], x[300:], case)
    before = ours.evaluate()
    links = ([ours.trainer.model.encoder, ours.trainer.model.decoder] if len(case['sizes']) == 1
             else ours.trainer.model.layers)
    for scan in (False, True):
        peer = bench.JAX(x[:300], x[300:], case, scan=scan)
        params = [(link.W.array.T.copy(), link.b.array.copy()) for link in links]
        peer.state = (params, peer.optimizer.init(params), peer.state[2])
        np.testing.assert_allclose(peer.evaluate(), before, rtol=1e-5)
        peer.epoch(50)
        assert max(peer.evaluate()) < min(before)
    ours.epoch(50)
    assert max(ours.evaluate()) < min(before)


def test_the_convolutional_benchmark_runs_and_its_block_renders_from_its_json(tmp_path):
    spec = importlib.util.spec_from_file_location(
        'conv_bench', os.path.join(ROOT, 'benchmarks', 'conv_bench.py'))
    conv_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv_bench)
    conv_bench.PAUSE = 0
    doc = tmp_path / 'doc.md'
    doc.write_text('<!-- conv-bench:start -->\nold\n<!-- conv-bench:end -->\n')
    conv_bench.main(['--repeat', '1', '--n-train', '200', '--dataset', 'digits', '--markdown',
                     str(doc)])
    from lab import report
    recorded = json.loads((tmp_path / 'conv-bench.json').read_text())
    assert recorded['medians']['ours'] > 0 and recorded['medians']['stock'] > 0
    assert set(recorded['parts']) == {'ours', 'stock'}
    assert set(recorded['parts']['stock']) == {'convolutions', 'unfolding', 'rest', 'total'}
    assert doc.read_text() == ('<!-- conv-bench:start -->\n' + report.render(
        'conv-bench.md.j2', os.path.join(ROOT, 'benchmarks', 'templates'), **recorded)
        + '<!-- conv-bench:end -->\n')


@pytest.mark.parametrize('name', ['bench', 'conv-bench', 'conv-bench-1-thread', 'allocator',
                                  'kernels', 'mpi-scaling', 'search-speed'])
def test_the_committed_table_of_the_engineering_notes_is_its_template_rendered_from_its_json(name):
    """docs/engineering.md's block `name` is what the benchmark wrote: its template filled from
    docs/<name>.json, which it wrote beside the page (a table edited by hand fails here)."""
    from lab import report
    with open(os.path.join(ROOT, 'docs', f'{name}.json')) as f:
        recorded = json.load(f)
    with open(os.path.join(ROOT, 'docs', 'engineering.md')) as f:
        page = f.read()
    block = page.split(f'<!-- {name}:start -->\n', 1)[1].split(f'<!-- {name}:end -->', 1)[0]
    template = 'conv-bench.md.j2' if name.startswith('conv-bench') else f'{name}.md.j2'
    assert block == report.render(template, os.path.join(ROOT, 'benchmarks', 'templates'),
                                  **recorded)
