"""A new hyperparameter is four edits of its own script and nothing in lab/: its line in the
block, the argument of the class that takes it, the line that uses it, and the call in main
that passes it on. From those alone it gets its option, help, type and check, its record in
run.json, a name of its own, and search.py's machinery can search it; no run writes over
another's outputs, whatever the block's values."""
import importlib.util
import json
import os

import pytest
from conftest import ROOT, command, run_files

# The four edits, as a researcher makes them: (where, what is added there).
EDITS = [
    ('    seed=1,                 # seed of the weights',  # the block's line
     '    weight_scale=1.,        # the initial weights multiplied by this, > 0\n'),
    ('tied=False, seed=0, code_activate=None, output_activate=None',  # the argument
     None),
    ('            self.encoder = L.Linear(n_inputs, n_hidden, '  # the line that uses it
     'initialW=initializers.LeCunNormal(rng=self.rng))\n',
     '            self.encoder.W.array *= weight_scale\n'),
    ("                       code_activate=hp['code_activate'],",  # the call in main
     None),
]


def edited_copy(folder):
    """autoencoder.py with the hyperparameter weight_scale added in the four places."""
    with open(os.path.join(ROOT, 'autoencoder.py')) as f:
        text = f.read()
    replacements = [
        (EDITS[0][0], EDITS[0][1] + EDITS[0][0]),
        (EDITS[1][0], EDITS[1][0] + ', weight_scale=1.'),
        (EDITS[2][0], EDITS[2][0] + EDITS[2][1]),
        (EDITS[3][0], EDITS[3][0] + " weight_scale=hp['weight_scale'],"),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / 'autoencoder_scaled.py'
    path.write_text(text)
    return path


def script(path):
    """The edited copy at `path`, imported as a module (its block is read from that file)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(module, *args, out):
    """What `python COPY --dataset digits --epoch 1 --out OUT ARGS` does: its exit status."""
    return command(module, ['--dataset', 'digits', '--epoch', '1', '--out', str(out), *args])


def runs_of(folder):
    """{name: run.json} of the runs written into `folder`."""
    out = {}
    for f in os.listdir(folder):
        if f.endswith('run.json'):
            with open(folder / f) as g:
                out[f[:-len('run.json')]] = json.load(g)
    return out


def test_a_hyperparameter_in_four_edits_gets_its_option_check_record_and_name(tmp_path, capsys):
    path = edited_copy(tmp_path)
    module, out = script(path), tmp_path / 'out'
    assert run(module, '--help', out=out) == 0
    help_ = ' '.join(capsys.readouterr().out.split())
    assert '--weight-scale WEIGHT_SCALE the initial weights multiplied by this, > 0 (default: 1.0)' \
        in help_

    assert run(module, '--weight-scale', '0', out=out) == 2  # its range, before any data
    err = capsys.readouterr()
    assert err.err == ('autoencoder_scaled.py: error: --weight-scale must be a number > 0, '
                       'got 0.0\n')
    assert 'data:' not in err.out and not os.path.exists(out)
    assert run(module, '--weight-scale', 'big', out=out) == 2
    assert "invalid float value: 'big'" in capsys.readouterr().err

    assert run(module, out=out) == 0
    assert run(module, '--weight-scale', '0.5', out=out) == 0
    folder = out / 'digits'
    runs = runs_of(folder)
    original = 'alg=AdaDelta_epoch=1_corp=30drop=10activate=relu_nhidden=100'
    assert set(runs) == {original, original + '_weightscale=0.5'}
    assert runs[original]['arguments']['weight_scale'] == 1.0
    assert runs[original + '_weightscale=0.5']['arguments']['weight_scale'] == .5
    assert runs[original]['loss_values'] != runs[original + '_weightscale=0.5']['loss_values']
    files = run_files(folder)  # and the logs
    assert len(files) == 2 * 6 and sum(f.startswith(original + '_') for f in files) == 6

    # The default edited in the block: the same command names the run as the first one, but a
    # run with other settings holds that name: this one is told apart, the others left alone.
    before = {f: (folder / f).read_bytes() for f in files}
    path.write_text(path.read_text().replace('    weight_scale=1.,  ', '    weight_scale=.5,  '))
    assert run(script(path), out=out) == 0
    runs = runs_of(folder)
    [third] = set(runs) - {original, original + '_weightscale=0.5'}
    assert third.startswith(original + '_run=') and len(third) == len(original) + len('_run=') + 8
    assert runs[third]['arguments']['weight_scale'] == .5
    assert {f: (folder / f).read_bytes() for f in before} == before
    assert len(run_files(folder)) == 3 * 6
    assert run(script(path), out=out) == 0  # the same command again: the same run, written again
    assert len(runs_of(folder)) == 3


def test_the_search_machinery_takes_the_new_option_from_the_script_alone(tmp_path):
    from lab import children, study
    path = edited_copy(tmp_path)
    spec = importlib.util.spec_from_file_location('autoencoder_scaled', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    script = children.Script(module)
    space = dict(weight_scale=(.5, 2.), activate=['relu', 'sigmoid'])
    study.check_space(script.name, space, script.defaults)  # searchable: no ConfigError
    assert children.command_line(script.name, dict(weight_scale=.5), 'digits')[-2:] == [
        '--weight-scale', '0.5']
    with pytest.raises(Exception, match='has no option'):
        study.check_space(script.name, dict(weight_scales=(1., 2.)), script.defaults)
