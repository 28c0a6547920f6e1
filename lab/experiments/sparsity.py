"""What a sparse code does to the filters (reproduce.py --experiment sparsity).

autoencoder.py's `sparsity` (an L1 penalty on the code, sparsity * sum_j |h_j| an image) at the
grid's relu and sigmoid settings (Adam, masking noise 0.3, dropout 0.1, a code of 100 values,
20 epochs, the random split), at 0 (the grid's own rows) and at STRENGTHS, each over --seeds
seeds: the test MSE; the probe; how sparse the code of the test images is (the share of its
values below THRESHOLD, their mean |h|, the units never above THRESHOLD); how local the filters
are (locality, of all of them and of the units that fire); and the filters of the script's own seed side by side (in sparsity/, apart from the grid's
pictures of the same runs, which another machine may have drawn). The post asked whether
features a person recognises need convolution: this asks what a sparse code alone does.
figures/sparsity.md (templates/sparsity.md.j2) with sparsity.json beside it.
"""
import os

import numpy as np

import autoencoder
from lab import report
from lab.files import check_writable_dir
from lab.experiments.grid import AUTOENCODERS
from lab.children import Script, codes, copy_pictures, measured_run, run_tasks, seeded

AE = Script(autoencoder)
SETTINGS = [o for group, o in AUTOENCODERS if group == 'activations'
            and o['activate'] in ('relu', 'sigmoid')]  # the grid's relu and sigmoid rows
# Barely, moderately (Keras' example's value) and strongly sparse, from a trial on MNIST,
# `autoencoder.py --optimizer Adam --activate relu --epoch 5 --sparsity S`: the mean |h| of the
# test codes was 0.32, 0.30, 0.20 and 0.06 for S = 0, 1e-5, 1e-4 and 1e-3; 1e-2 silenced every unit.
STRENGTHS = (1e-5, 1e-4, 1e-3)
THRESHOLD = .01  # a code value below it counts as zero
MEASURES = ('test_mse', 'probe', 'zeros', 'mean_abs', 'locality', 'live_locality')


def locality(w, share=.1):
    """The mean over the filters (rows of w) of the share of each one's squared weight that
    lies in its largest `share` of pixels: near `share` for noise spread over the image, near 1
    for a stroke in a few pixels."""
    w2 = np.sort(np.square(w, dtype=np.float64), axis=1)[:, ::-1]
    return float(np.mean(w2[:, :max(1, round(w.shape[1] * share))].sum(1) / w2.sum(1)))


def sparse_run(ctx, options):
    """One run: its errors and probe, its code's sparsity, its filters' locality and (for the
    script's own seed) its filters' picture."""
    strength = options.get('sparsity', 0.)
    run, model, m = measured_run(ctx, AE, options, tag=f'{options["activate"]}, sparsity '
                                 f'{strength:g}, seed {options.get("seed", AE.defaults["seed"])}')
    if model is None:  # it diverged
        return dict(m, activate=options['activate'], sparsity=strength, silent=0, pictures=[],
                    **dict.fromkeys(MEASURES[2:], float('nan')))
    h, w = np.abs(codes(model, ctx.split[0][1])), np.asarray(model.encoder.W.array)
    live = h.max(0) >= THRESHOLD  # the units that fire on some test image
    return dict(m, activate=options['activate'], sparsity=strength,
                zeros=float(np.mean(h < THRESHOLD)), mean_abs=float(h.mean()),
                silent=int(np.sum(~live)), locality=locality(w), live_locality=locality(w[live]),
                pictures=[] if 'seed' in options else [f'sparsity/{name}' for name in copy_pictures(
                    run, ['enc.png'], check_writable_dir('out', os.path.join(ctx.out,
                                                                             'sparsity')))])


def run(ctx):
    """The experiment, for reproduce.py's context ctx."""
    ctx.load(AE.defaults['split_seed'], 'random')
    settings = [dict(s, epoch=2) if ctx.quick else s for s in SETTINGS]  # --quick: the grid's
    rows = [dict(s, **({'sparsity': strength} if strength else {}))
            for s in settings for strength in (0., *STRENGTHS)]
    results = run_tasks([(f'{o["activate"]}, sparsity {o.get("sparsity", 0):g}', sparse_run,
                          dict(ctx=ctx, options=o))
                         for row in rows for o in seeded(AE, row, ctx.seeds)], ctx.jobs)
    table = []
    for s in settings:
        for strength in (0., *STRENGTHS):
            row, runs = report.over_seeds([r for r in results if r['sparsity'] == strength
                                           and r['activate'] == s['activate']], MEASURES)
            table.append(dict(row, seeds=[r['seed'] for r in runs],
                              silent=[r['silent'] for r in runs]))
    findings = [dict(activate=r['activate'], sparsity=r['sparsity'], **{key: dict(
        apart=report.differ(r, base, key), lower=r[key] < base[key]) for key in MEASURES})
        for r in table for base in table
        if base['activate'] == r['activate'] and base['sparsity'] == 0 < r['sparsity']]
    report.write_page(os.path.join(ctx.out, 'sparsity.md'), 'sparsity.md.j2', report.plain(dict(
        header=report.header(ctx.command, ctx.seconds(), ctx.jobs, results),
        data=report.data(ctx.split), settings=settings, strengths=STRENGTHS,
        threshold=THRESHOLD, rows=table, findings=findings)))
