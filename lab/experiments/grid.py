"""The original write-up's experiments, re-run over seeds, and what it could not measure
(reproduce.py's default experiment, `--experiment original`).

The original's experiments (see the README), Adam, batch 100:
  activations  784 -> 100: relu, sigmoid, tanh; noise .30, dropout .10, 20 epochs
  best         sigmoid, noise .30, dropout .30, 10 epochs
  epochs       the best setting at 20 and 30 epochs
  deep         DAE, sigmoid, hidden sizes (100, 25) and (784, 100), pretraining 20 epochs a
               layer, then fine-tuning 10
and what it could not tell:
  PCA          for every run, the test error of PCA with as many components as the code
  probe        for every run, a linear probe: logistic regression fitted on the codes of the
               training set, its accuracy on the test set (and the same on pixels, PCA codes)
  linear       a linear tied autoencoder (identity, W2 = W1^T, no noise, no dropout), k = 100,
               trained with a decaying learning rate until it converges to PCA with k = 100
  pretraining  DAE (100, 25) with and without pretraining, same epochs and seed: with the
               original's settings, and on plain reconstruction (no noise, no dropout)
               fine-tuned until it beats PCA with 25 components
Every row runs over --seeds seeds. The page figures/README.md (templates/grid.md.j2), its
numbers in figures/results.json, and the results in brief in README.md and README.ja.md.
"""
import os

import numpy as np

import autoencoder
import deep_autoencoder
from lab import report
from lab.experiments.hinton import PAPER
from lab.files import write_between_markers, write_json, write_text
from lab.children import (Script, command_line, copy_pictures, measured_run, pca_baseline, probe,
                      run_tasks, seeded, seeds)

AE, DEEP = Script(autoencoder), Script(deep_autoencoder)
README_MARKERS = ('<!-- results:start -->', '<!-- results:end -->')

# The grid, as the options of autoencoder.py (AE) or deep_autoencoder.py (DEEP) of each row;
# the options a row does not name are the scripts' HYPERPARAMETERS.
SINGLE = dict(optimizer='Adam', n_hidden=100)  # the original's figures were made with Adam


AUTOENCODERS = [  # (group, options)
    ('activations', dict(SINGLE, activate='relu', corruption_ratio=.3, dropout_ratio=.1, epoch=20)),
    ('activations', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.1, epoch=20)),
    ('activations', dict(SINGLE, activate='tanh', corruption_ratio=.3, dropout_ratio=.1, epoch=20)),
    ('best', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.3, epoch=10)),
    ('epochs', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.3, epoch=20)),
    ('epochs', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.3, epoch=30)),
]


STACKED = dict(activate='sigmoid', optimizer='Adam', corruption_ratio=.3, dropout_ratio=.1,
               pretrain_epoch=20, finetune_epoch=10)  # the original's deep experiment


PLAIN = dict(corruption_ratio=0., dropout_ratio=0., finetune_epoch=100)  # no noise, no dropout


DEEP_RUNS = [
    ('deep', dict(STACKED, n_hidden_layers=[100, 25])),
    ('deep', dict(STACKED, n_hidden_layers=[784, 100])),
    ('pretraining', dict(STACKED, n_hidden_layers=[100, 25], no_pretraining=True)),
    ('pretraining', dict(STACKED, n_hidden_layers=[100, 25], **PLAIN)),
    ('pretraining', dict(STACKED, n_hidden_layers=[100, 25], **PLAIN, no_pretraining=True)),
]


# The linear tied autoencoder: Adam from a learning rate of 3e-3, times 0.9 after every epoch
# (at a constant 1e-3 its test error stays about 3% above PCA's: the noise of the steps).
LINEAR = ('linear', dict(SINGLE, activate='identity', tied=True, corruption_ratio=0.,
                         dropout_ratio=0., lr=3e-3, lr_decay=.9, epoch=40))


MAKE_RUN = ('make run', {})  # autoencoder.py as `make run` runs it: its HYPERPARAMETERS, AdaDelta


CONVERGED = .005  # within 0.5% of PCA's test error


SEEDS = 5  # every row with its script's own seed (today's names and pictures) and the next four


def grid_row(ctx, group, script, options, row=0):
    """One run of a row of the grid: its errors and probe, its pictures (for the script's own
    seed: the others differ only by --seed)."""
    run, model, measures = measured_run(ctx, script, options)
    a = run['record']['arguments']
    result = dict(measures, group=group, corruption=a['corruption_ratio'],
                  dropout=a['dropout_ratio'], activate=a['activate'], split_seed=a['split_seed'],
                  row=row)
    shown = (group in ('activations', 'best', 'epochs', 'deep', 'make run')
             and 'seed' not in options and model is not None)  # no model: it diverged
    pictures = copy_pictures(run, [*model.weight_pictures(), *(
        ['reconstruction.png'] if group == 'make run' else [])], ctx.out) if shown else []
    if script == AE:
        return dict(result, kind='autoencoder', epoch=a['epoch'], code=a['n_hidden'],
                    optimizer=a['optimizer'],
                    alpha=a['lr'], decay=a['lr_decay'], pictures=pictures,
                    weights=None if model is None else np.asarray(model.encoder.W.array))
    sizes = a['n_hidden_layers']
    return dict(result, kind='deep', sizes=list(sizes), code=sizes[-1],
                pretrain=0 if a['no_pretraining'] else a['pretrain_epoch'],
                finetune=a['finetune_epoch'], pictures=pictures)


def quick_options(options):
    """The same row with a tenth of the epochs (at least one)."""
    return {k: max(1, v // 10) if k in ('epoch', 'pretrain_epoch', 'finetune_epoch') else v
            for k, v in options.items()}


def grid(quick, n_seeds=SEEDS):
    """Every run as (label, group, script, options, row): each row of the grid with its
    script's own seed and the next n_seeds - 1 (named only where not the script's own);
    quick: a tenth of the epochs."""
    rows = [(group, AE, o) for group, o in AUTOENCODERS] + [
        (group, DEEP, o) for group, o in DEEP_RUNS] + [(LINEAR[0], AE, LINEAR[1]),
                                                       (MAKE_RUN[0], AE, MAKE_RUN[1])]
    return [(f'{group}: {" ".join(command_line(script.name, o, "")[3:]) or "its defaults"}',
             group, script, o, row) for row, (group, script, options) in enumerate(rows)
            for o in seeded(script, quick_options(options) if quick else options, n_seeds)]


def run_all(ctx):
    """Every run of the grid and the baselines, in --jobs threads; the results in the grid's
    order."""
    data, labels = ctx.split
    tasks = [(label, grid_row, dict(ctx=ctx, group=group, script=script, options=options,
                                    row=row))
             for label, group, script, options, row in grid(ctx.quick, ctx.seeds)]
    tasks += [(f'baseline: PCA-{k}', pca_baseline, dict(k=k, data=data, labels=labels))
              for k in (100, 25)]
    tasks += [('baseline: probe on the pixels', pixel_probe, dict(data=data, labels=labels))]
    return run_tasks(tasks, ctx.jobs)


def subspace(weights, components):
    """Principal angles between the row spaces: mean cos^2 (1 = the same subspace), largest angle."""
    from scipy.linalg import subspace_angles
    angles = subspace_angles(weights.T.astype(np.float64), components.T.astype(np.float64))
    return float(np.mean(np.cos(angles) ** 2)), float(np.degrees(angles.max()))


def captured(weights, components, variances, level=.99):
    """Which of PCA's directions (in order of variance) lie in the span of the weight rows:
    the share of each component's length in that span (cos^2 of its angle to it); how many of
    the first ones in a row reach `level`; and the share of PCA's variance carried by the
    components that do not."""
    basis, _ = np.linalg.qr(weights.T.astype(np.float64))  # orthonormal, the span of the rows
    share = np.sum((components.astype(np.float64) @ basis) ** 2, axis=1)
    first = int(np.argmin(share >= level)) if (share < level).any() else len(share)
    missed = share < level
    return dict(level=level, leading=first, missed=int(missed.sum()),
                missed_variance=float(variances[missed].sum() / variances.sum()))


def converged_at(linear, pca):
    """The first epoch from which the linear autoencoder's test error stays within CONVERGED
    of PCA's, or None."""
    excess = [value / pca['test_mse'] - 1 for value in linear['test_curve']]
    return next((e for e in range(1, len(excess) + 1)
                 if all(x <= CONVERGED for x in excess[e - 1:])), None)


def comparison(linear, pca):
    """The linear tied autoencoder against PCA: its test error epoch by epoch above PCA's, the
    epoch it converged at, and the subspace its weights span at the end against PCA's."""
    if pca['components_used'] < pca['k'] or pca['test_mse'] < 1e-12:
        return dict(exact=pca['components_used'])  # PCA reconstructs exactly: nothing to compare
    excess = [value / pca['test_mse'] - 1 for value in linear['test_curve']]
    converged = converged_at(linear, pca)
    shown = sorted({1, *range(5, len(excess) + 1, 5), len(excess), converged or 1})
    overlap, largest = subspace(linear['weights'], pca['components'])
    return dict(exact=None, converged=converged, epochs=len(excess), within=CONVERGED,
                k=pca['k'], overlap=overlap, largest=largest,
                **captured(linear['weights'], pca['components'], pca['variances']),
                rows=[dict(epoch=e, test_mse=linear['test_curve'][e - 1], excess=excess[e - 1])
                      for e in shown])


def first_below(curve, level):
    return next((i for i, value in enumerate(curve, 1) if value < level), None)


def grid_report(ctx, results):
    """Everything the grid's report says, computed: the tables' rows over their seeds, the
    baselines and what the findings compare. JSON-able (results.json); templates/grid.md.j2
    turns it into words."""
    pca = {r['k']: r for r in results if r['kind'] == 'pca'}
    runs = over_seeds([r for r in results if r['kind'] in ('autoencoder', 'deep')])
    singles = [r for r in runs if r['kind'] == 'autoencoder'
               and r['group'] not in ('linear', 'make run')]
    deeps = [dict(r, pca=pca[r['code']]) for r in runs if r['group'] == 'deep']
    level = pca[25]['test_mse']
    pretraining = [dict(r, **first_below_over_seeds(r['curves'], level))
                   for r in sorted((r for r in runs if r['kind'] == 'deep'
                                    and tuple(r['sizes']) == (100, 25)),
                                   key=lambda r: (r['corruption'] == 0, -r['pretrain']))]
    linear = next(r for r in runs if r['group'] == 'linear')
    shown = lambda g: [r for r in runs if r.get('group') == g and r['pictures']]  # noqa: E731
    return report.plain(dict(
        header=report.header(ctx.command, ctx.seconds(), ctx.jobs, results),
        data=dict(report.data(ctx.split), split_seed=runs[0]['split_seed'],
                  pixel_probe=next(r for r in results if r['kind'] == 'pixels')['probe']),
        seeds={script.name: seeds(script, len(runs[0]['seeds'])) for script in (AE, DEEP)},
        pca={str(k): r for k, r in pca.items()}, paper=PAPER, singles=singles, deeps=deeps,
        pretraining=pretraining,
        linear=dict(linear, comparison=comparison(linear, pca[100])),  # its own seed's run
        make_run=next(r for r in runs if r['group'] == 'make run'),
        findings=findings(singles, deeps, pretraining, pca),
        pictures=dict(activations=shown('activations'), best=shown('best') + shown('epochs'),
                      deep=shown('deep'))))


def first_below_over_seeds(curves, level):
    """The first epoch below `level` of each seed's curve, and over those that get there,
    their median epoch and how many they are."""
    below = [first_below(curve, level) for curve in curves]
    reached = [e for e in below if e is not None]
    return dict(below=below, below_count=len(reached),
                below_median=float(np.median(reached)) if reached else None)


MEASURES = ('train_mse', 'test_mse', 'probe')  # the columns that depend on the seed


def over_seeds(runs):
    """The grid's rows from their runs: the script's own seed's run (its command, name,
    pictures, test curve and weights) with, for each measure, the mean over the row's seeds and
    its sample standard deviation (`<measure>_sd`, None for one seed), the median seconds,
    every seed's test curve."""
    rows = {}
    for r in runs:
        rows.setdefault(r['row'], []).append(r)
    out = []
    for row in rows.values():
        first, row = report.over_seeds(row, MEASURES)
        out.append(dict(first, seeds=[r['seed'] for r in row], curves=[r['test_curve'] for r in row],
                        seconds=float(np.median([r['seconds'] for r in row]))))
    return out


def findings(singles, deeps, pretraining, pca):
    """What the findings compare, against the original's observations; two rows are called
    apart only beyond their spread over the seeds (lab.report.apart)."""
    activations = [r for r in singles if r['group'] == 'activations']
    best = min(activations, key=lambda r: r['test_mse'])
    epochs = [r for r in singles if r['group'] in ('best', 'epochs')]
    sigmoid = next(r for r in activations if r['activate'] == 'sigmoid')
    wide = next((r for r in deeps if r['code'] == sigmoid['code']), None)
    nearest = min(singles + deeps, key=lambda r: r['test_mse'] / pca[r['code']]['test_mse'])
    noisy = [r for r in pretraining if r['corruption'] > 0]
    plain_ = [r for r in pretraining if r['corruption'] == 0]
    ordered = sorted(activations, key=lambda r: r['test_mse'])
    return dict(
        gap=max(abs(r['test_mse'] / r['train_mse'] - 1) for r in singles),
        best=best, others=[r for r in activations if r is not best], epochs=epochs,
        activation_pairs=[dict(a=a['activate'], b=b['activate'], apart=report.differ(a, b))
                          for i, a in enumerate(ordered) for b in ordered[i + 1:]],
        epoch_steps=[dict(falls=b['test_mse'] < a['test_mse'], apart=report.differ(a, b))
                     for a, b in zip(epochs, epochs[1:])],
        wide=wide and dict(wide, apart=report.differ(wide, sigmoid)), sigmoid=sigmoid,
        nearest=dict(nearest, pca_mse=pca[nearest['code']]['test_mse']),
        probes=[r['probe'] for r in singles],
        probes_above=[report.above(r, 'probe', pca[100]['probe']) for r in singles],
        deep_probes_above=[report.above(r, 'probe', pca[r['code']]['probe']) for r in deeps],
        pretraining=dict(noisy=noisy, plain=plain_, noisy_apart=report.differ(*noisy),
                         plain_apart=report.differ(*plain_)) if len(noisy) == len(plain_) == 2 else None)


def grid_pages(results):
    """The pages of one report: the full one (OUT/README.md), and the results in brief for the
    README and the Japanese README ({file: the block between their markers})."""
    return ('# Results\n\n' + report.render('grid.md.j2', **results, prefix=''),
            {'README.md': report.wrap_prose(report.render('readme.md.j2', **results)),
             'README.ja.md': report.render('readme.ja.md.j2', **results)})  # no spaces in Japanese


def pixel_probe(data, labels):
    return dict(kind='pixels', probe=probe(data[0], data[1], labels))


def run(ctx):
    """The experiment, for reproduce.py's context ctx: its runs and baselines, figures/README.md
    and results.json, and (with ctx.writes_figures) the README blocks."""
    ctx.load(AE.defaults['split_seed'], 'random')
    print(f'data: {ctx.split.name} from {report.data_source(ctx.split)}; '
          f'{len(grid(ctx.quick, ctx.seeds))} runs ({ctx.seeds} seeds a row) and 3 baselines with '
          f'--jobs {ctx.jobs}; runs in {ctx.runs}/{ctx.dataset}/, pictures to {ctx.out}/')
    numbers = grid_report(ctx, run_all(ctx))
    page, blocks = grid_pages(numbers)
    write_json(os.path.join(ctx.out, 'results.json'), numbers)
    write_text(os.path.join(ctx.out, 'README.md'), page)
    print(f'wrote {os.path.join(ctx.out, "README.md")} and results.json')
    if ctx.writes_figures:
        for readme, body in blocks.items():
            write_between_markers(os.path.join(ctx.root, readme), body, README_MARKERS)
        print(f'updated the results blocks of {" and ".join(blocks)}')
