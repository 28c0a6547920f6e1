"""Does convolution give better features? (reproduce.py --experiment conv)

The 2016 post's last conjecture, measured like every other row: conv_autoencoder.py and
autoencoder.py with the same settings (the grid's relu row: Adam, masking noise 0.3, dropout 0.1
on a code of 100 values, 20 epochs, batch 100), each over --seeds seeds, beside PCA with 100
components: the test MSE and the linear probe of the codes, mean ± sd, compared by the rule
(mean ± 2 sd), and the pictures of the script's own seed: the convolution's first kernels and
what each of its code units draws, beside the dense autoencoder's filters and decoder columns.
figures/conv.md (templates/conv.md.j2) with conv.json beside it.
"""
import os

import numpy as np

import autoencoder
import conv_autoencoder
from lab import report
from lab.children import Script, copy_pictures, measured_run, pca_baseline, run_tasks, seeded

AE, CONV = Script(autoencoder), Script(conv_autoencoder)
SETTINGS = dict(optimizer='Adam', activate='relu', n_hidden=100, corruption_ratio=.3,
                dropout_ratio=.1, epoch=20)  # the grid's relu row
ROWS = [('convolutional', CONV, ['kernels.png', 'units.png']),
        ('dense', AE, ['enc.png', 'dec.png'])]  # (label, script, its pictures)


def row_run(ctx, label, script, options, pictures):
    """One run of a row: its errors, probe and (for the script's own seed) pictures."""
    run, _, measures = measured_run(ctx, script, options, tag=f'{label}, seed '
                                    f'{options.get("seed", script.defaults["seed"])}')
    return dict(measures, label=label,
                pictures=[] if 'seed' in options else copy_pictures(run, pictures, ctx.out))


def run(ctx):
    """The experiment, for reproduce.py's context ctx."""
    data, labels = ctx.load(AE.defaults['split_seed'], 'random')  # the runs' own split
    options = SETTINGS if not ctx.quick else dict(SETTINGS, epoch=2)
    tasks = [(f'{label}, seed {o.get("seed", script.defaults["seed"])}', row_run, dict(
        ctx=ctx, label=label, script=script, options=o, pictures=pictures))
        for label, script, pictures in ROWS for o in seeded(script, options, ctx.seeds)]
    results = run_tasks(tasks + [('baseline: PCA-100', pca_baseline, dict(
        k=100, data=data, labels=labels))], ctx.jobs)
    pca = results.pop()
    rows = [summary([r for r in results if r['label'] == label]) for label, _, _ in ROWS]
    report.write_page(os.path.join(ctx.out, 'conv.md'), 'conv.md.j2', compare(
        ctx, rows, pca, results))


def summary(runs):
    """A row over its seeds: each measure's mean and sample sd, the first seed's run."""
    row, runs = report.over_seeds(runs, ('train_mse', 'test_mse', 'probe'))
    return dict(row, minutes=float(np.median([r['seconds'] for r in runs])) / 60,
                seeds=[dict(seed=r['seed'], test_mse=r['test_mse'], probe=r['probe'],
                            minutes=r['seconds'] / 60) for r in runs])


def compare(ctx, rows, pca, results):
    """What the page says, computed (conv.json): the rows, PCA-100 and the comparisons."""
    conv, dense = rows
    return report.plain(dict(
        header=report.header(ctx.command, ctx.seconds(), ctx.jobs, results),
        data=report.data(ctx.split), settings=SETTINGS, rows=rows,
        pca=dict(test_mse=pca['test_mse'], probe=pca['probe'], components=pca['components_used']),
        mse_apart=report.differ(conv, dense), probe_apart=report.differ(conv, dense, 'probe'),
        above_pca={r['label']: report.above(r, 'probe', pca['probe']) for r in rows},
        below_pca={r['label']: report.below(r, 'test_mse', pca['test_mse']) for r in rows}))
