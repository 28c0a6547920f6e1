"""What the search found (reproduce.py --experiment search): the single autoencoder's study,
and its best settings retrained.

1. The study `python search.py autoencoder.py --n-trials N --jobs J --sampler-seed 0` (both
   objectives, on the validation split, one seed a trial), run or continued to N finished
   trials as a command of its own; what it found is read from its storage.
2. Three trials along its Pareto front: the lowest validation MSE, the highest probe accuracy,
   and the front's middle one.
3. Their settings, the original's best (sigmoid, noise and dropout 0.30, 10 epochs, Adam) and
   the `__main__` setting retrained on MNIST's own split with --seeds seeds, and measured once
   on its test set: the test MSE and the probe's test accuracy, mean and sample standard
   deviation.
4. figures/search.md (templates/search.md.j2) with search.json beside it, and the README's
   search section.
Resumable: the study goes on where it is, runs that finished are read back.
"""
import os
import sys

import autoencoder
from lab import report
from lab.files import write_between_markers
from lab.children import (Script, copy_pictures, measured_run, run_process, run_tasks, seeded,
                      seeds)

AE = Script(autoencoder)
ORIGINAL_BEST = dict(optimizer='Adam', activate='sigmoid', corruption_ratio=.3,
                     dropout_ratio=.3, epoch=10)  # the write-up's best-looking setting
MARKERS = ('<!-- search:start -->', '<!-- search:end -->')
LETTERS = 'ABCDEFG'


def picks(study):
    """The trials of the front to retrain: {label: trial}, from the lowest MSE to the highest
    accuracy (a front of two has no middle)."""
    front = sorted(study.best_trials, key=lambda t: t.values)
    low, high, middle = front[0], max(front, key=lambda t: t.values[1]), front[len(front) // 2]
    chosen = {'lowest validation MSE': low}
    if middle.number not in (low.number, high.number):
        chosen['between the two'] = middle
    if high.number != low.number:
        chosen['highest probe accuracy'] = high
    return chosen


def settings(study):
    """(label, options) of every setting retrained: the picks, the original's, __main__'s."""
    rows = [(f'trial {t.number}: {label}', {k: v for k, v in t.user_attrs['options'].items()
                                            if k != 'split'})
            for label, t in picks(study).items()]
    return rows + [("the original's best (sigmoid, noise and dropout 0.30, 10 epochs, Adam)",
                    dict(ORIGINAL_BEST)), ('`make run` (the `__main__` block: relu, AdaDelta, '
                                           'noise 0.30, dropout 0.10, 20 epochs)', {})]


def retrain(ctx, label, options):
    """One seed of a setting on MNIST's own split (the digits: the random one): its test MSE
    and probe accuracy."""
    _, _, m = measured_run(ctx, AE, options)
    return dict(label=label, seed=m['seed'], command=m['command'], test_mse=m['test_mse'],
                probe=m['probe'], seconds=m['seconds'])


def front_figure(study, chosen, path):
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == 'COMPLETE']
    front = sorted(study.best_trials, key=lambda t: t.values)
    with report.figure(path, figsize=(7, 4.5)) as (fig, ax):
        ax.scatter([t.values[0] for t in done], [100 * t.values[1] for t in done], s=14,
                   color='0.6', label=f'trials ({len(done)}, one seed each)')
        ax.plot([t.values[0] for t in front], [100 * t.values[1] for t in front], 'o-',
                color='tab:blue', markersize=5, label='Pareto front')
        for i, (letter, (label, t)) in enumerate(zip(LETTERS, chosen.items())):
            ax.annotate(f'{letter}: trial {t.number}', (t.values[0], 100 * t.values[1]),
                        textcoords='offset points', xytext=(6, 10 if i % 2 else -16),
                        color='tab:red')
        ax.set(xscale='log', xlabel='validation MSE (last 10,000 MNIST training images)',
               ylabel='probe accuracy on the validation images (%)')
        ax.set_title('autoencoder.py on MNIST: reconstruction against linear separability',
                     fontsize=10)
        ax.legend(loc='lower left', fontsize=8)
        fig.tight_layout()


def importances(study):
    """fANOVA importances of the parameters for each objective: {objective: {param: share}}."""
    import optuna
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return {name: optuna.importance.get_param_importances(
        study, evaluator=evaluator, target=lambda t, i=i: t.values[i], normalize=True)
        for i, name in enumerate(('validation MSE', 'probe accuracy'))}


def findings(rows):
    """What the findings say, computed: for each measure the best setting's letter, those it
    beats beyond the spread and those it does not (report.apart); the settings of the lowest
    test MSE and of the highest probe accuracy, and whether they differ beyond the spread."""
    stats = {r['letter']: r for r in rows}
    out = {}
    for key, sign in (('mse', 1), ('probe', -1)):
        best = min(stats, key=lambda s: sign * stats[s][key][0])
        beaten = [s for s in stats if s != best and report.apart(stats[best][key], stats[s][key])]
        out[key] = dict(best=best, label=stats[best]['label'], beaten=beaten,
                        tied=[s for s in stats if s not in (best, *beaten)])
    mse_best, probe_best = out['mse']['best'], out['probe']['best']
    out['differ'] = [key for key in ('mse', 'probe')
                     if report.apart(stats[mse_best][key], stats[probe_best][key])]
    return out


def run(ctx):
    """The experiment, for reproduce.py's context ctx."""
    folder = os.path.relpath(ctx.runs, ctx.root)  # as the trials' commands show: no path of here
    status = run_process([sys.executable, '-u', os.path.join(ctx.root, 'search.py'),
                          'autoencoder.py', '--n-trials', str(ctx.n_trials), '--jobs',
                          str(ctx.jobs), '--dataset', ctx.dataset, '--sampler-seed', '0', '--out',
                          folder], 'search', None, None, 'reproduce.py')
    if status:
        raise RuntimeError(f'search.py ended with exit status {status}')
    page(ctx, folder)


def page(ctx, folder):
    import optuna
    from scipy.stats import spearmanr

    from lab.study import open_storage
    split = 'official' if ctx.dataset == 'mnist' else 'random'  # the retrained runs' split
    ctx.load(AE.defaults['split_seed'], split)
    name = f'autoencoder-{ctx.dataset}-both'
    study = optuna.load_study(study_name=name, storage=open_storage(
        f'sqlite:///{os.path.join(ctx.root, folder, "search.db")}', 60))
    tasks = [(f'{label}, seed {seed}', retrain, dict(ctx=ctx, label=label, options=o))
             for label, options in settings(study)
             for seed, o in zip(seeds(AE, ctx.seeds), seeded(AE, dict(options, split=split),
                                                             ctx.seeds))]
    retrained = run_tasks(tasks, ctx.jobs)
    chosen = picks(study)
    front_figure(study, chosen, os.path.join(ctx.out, 'search_front.png'))
    pictures = [copy_pictures(dict(folder=os.path.join(ctx.root, os.path.dirname(t.user_attrs[
        'run'])), name=os.path.basename(t.user_attrs['run'])), ['enc.png'], ctx.out)[0]
        for t in chosen.values()]
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == 'COMPLETE']
    rho = spearmanr([t.values[0] for t in done], [t.values[1] for t in done])
    rows = []
    for letter, (label, _) in zip(LETTERS, settings(study)):
        runs_ = [r for r in retrained if r['label'] == label]
        rows.append(dict(letter=letter, label=label, command=runs_[0]['command'],
                         mse=report.spread([r['test_mse'] for r in runs_]),
                         probe=report.spread([r['probe'] for r in runs_])))
    front = [dict(number=t.number, options=t.user_attrs['options'], command=t.user_attrs[
        'command'], values=t.values) for t in sorted(study.best_trials, key=lambda t: t.values)]
    numbers = report.plain(dict(
        header=dict(report.header(ctx.command, ctx.seconds(), ctx.jobs, []), study=name,
                    training=(sum(t.user_attrs['seconds'] for t in done)  # the runs' own records:
                              + sum(r['seconds'] for r in retrained)),  # the same if read back
                    trials=len(done), retrained=len(retrained)),
        dataset=ctx.dataset, seeds=seeds(AE, ctx.seeds), front=front, rows=rows,
        chosen=[dict(label=label, number=t.number, picture=picture)
                for (label, t), picture in zip(chosen.items(), pictures)],
        importances=importances(study), rho=[rho.statistic, rho.pvalue],
        findings=findings(rows)))
    report.write_page(os.path.join(ctx.out, 'search.md'), 'search.md.j2', numbers,
                      title='# What the search found\n\n', prefix='', brief=False)
    if ctx.writes_figures:
        brief = report.render('search.md.j2', **numbers, prefix='figures/', brief=True)
        write_between_markers(os.path.join(ctx.root, 'README.md'), report.wrap_prose(brief),
                              MARKERS)
        print('updated the search section of README.md')
