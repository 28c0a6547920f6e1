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
    out = tmp_path / 'bench.json'
    bench.main(['--repeat', '1', '--n-train', str(n_train), '--memory-epochs', '1', '--dataset', 'digits',
                '--json', str(out)])
    result = json.loads(out.read_text())
    rows = {r['row']: r for r in result['rows']}
    assert {'epoch, relu, batch 100', 'epoch, sigmoid, batch 100', 'epoch, relu, batch 1000',
            'evaluation, train + test MSE', 'save_images, 784 tiles of 28x28'} <= rows.keys()
    assert all(r['min'] <= r['median'] <= r['max'] for r in rows.values())
    assert all('numpy' in rows[f'epoch, {a}, batch {b}'] and 'floor' in rows[f'epoch, {a}, batch {b}']
               for a, b in (('relu', 100), ('sigmoid', 100), ('relu', 1000)))
    has_torch = not hide_torch and importlib.util.find_spec('torch') is not None
    assert ('ratio' in rows['epoch, relu, batch 100']) == has_torch
    assert result['peer'].startswith('PyTorch' if has_torch else 'skipped: torch not installed')
    memory = result['memory']
    assert memory['data_bytes'] == (n_train + 450) * 64 * 4  # float32 train and test sets
    assert memory['peak_bytes'] >= memory['data_bytes']  # the run held them
    assert result['data'].startswith(f'digits: {n_train} training samples ({source}: 1347 training')
    assert 'ours/PT' in capsys.readouterr().out
