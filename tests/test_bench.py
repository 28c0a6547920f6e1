"""The benchmark runs end to end on tiny sizes (how fast is its business, not the tests')."""
import importlib.util
import json
import os
import sys

import pytest
from conftest import ROOT


@pytest.mark.parametrize('hide_torch, n_train, source', [(False, 300, 'real rows'),
                                                         (True, 2000, 'tiled')])
def test_benchmark_runs_and_writes_its_table(tmp_path, capsys, monkeypatch, hide_torch, n_train,
                                             source):
    if hide_torch:
        monkeypatch.setitem(sys.modules, 'torch', None)  # `import torch` raises ImportError
    spec = importlib.util.spec_from_file_location('bench', os.path.join(ROOT, 'benchmarks', 'bench.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
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
    assert result['blas'].startswith('openblas ') and ' kernel ' in result['blas']
    assert all('floor' in rows[row] for row in epochs)
    assert [('numpy' in rows[row]) for row in epochs] == [True, True, False]  # one hidden layer
    has_torch = not hide_torch and importlib.util.find_spec('torch') is not None
    assert all(('ratio' in rows[row]) == has_torch for row in epochs)
    assert result['peer'].startswith('PyTorch' if has_torch else 'skipped: torch not installed')
    memory = result['memory']
    assert memory['data_bytes'] == (n_train + 450) * 64 * 4  # float32 train and test sets
    assert memory['peak_bytes'] >= memory['data_bytes']  # the run held them
    assert result['data'].startswith(f'digits: {n_train} training samples ({source}: 1347 training')
    assert result['data'].endswith('(c): 200 samples (real rows)')  # of the 1,797 digits
    assert 'ours/PT' in capsys.readouterr().out
    text = doc.read_text()
    assert text.startswith('before\n<!-- bench:start -->\nProduced by `python benchmarks/bench.py')
    assert text.endswith('<!-- bench:end -->\nafter\n') and 'old' not in text
    for r in result['rows']:
        assert f'| {r["row"]} | {r["median"]:.3f} |' in text


def test_floor_counts_the_products_of_a_step():
    spec = importlib.util.spec_from_file_location('bench', os.path.join(ROOT, 'benchmarks', 'bench.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    shapes = bench.layer_shapes(784, (100,))
    assert shapes == [(784, 100), (100, 784)]
    # forward 2 products, backward 3 (no gradient for the input): 5 x 2 x B x 784 x 100
    assert bench.step_flop(100, shapes) == 5 * 2 * 100 * 784 * 100
    assert bench.layer_shapes(784, (1000, 30)) == [(784, 1000), (1000, 30), (30, 1000), (1000, 784)]
