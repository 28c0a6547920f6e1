"""What the search found: the single autoencoder's study on MNIST, and its best settings retrained.

    MNIST_DIR=~/data/mnist python search_report.py --n-trials 60 --jobs 2

1. The study `python search.py autoencoder.py --n-trials N --jobs J` (both objectives, on the
   validation split, one seed a trial), run or continued to N finished trials.
2. Three trials along its Pareto front: the lowest validation MSE, the highest probe accuracy,
   and the front's middle one.
3. Their settings, the original's best (sigmoid, noise and dropout 0.30, 10 epochs, Adam) and
   the `__main__` setting retrained on MNIST's own split with SEEDS, and measured once on its
   test set: the test MSE and the probe's test accuracy, mean and sample standard deviation.
4. figures/search.md (the front, the importances, the pictures, the commands, the findings)
   and the README's search section.
Resumable: the study goes on where it is, runs that finished are read back.
"""
import argparse
import os
import sys

import numpy as np

import chainer_compat
import utils
from runs import apart, spread

SEEDS = (1, 2, 3, 4, 5)  # autoencoder.py's own seed, 1, and four more
ORIGINAL_BEST = dict(optimizer='Adam', activate='sigmoid', corruption_ratio=.3,
                     dropout_ratio=.3, epoch=10)  # the write-up's best-looking setting
MARKERS = ('<!-- search:start -->', '<!-- search:end -->')


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


def retrain(label, options, seed, data, labels, dataset, split):
    """One seed of a setting on MNIST's own split (the digits: the random one): its test MSE
    and probe accuracy."""
    import runs
    run = runs.script_run(runs.AE, dict(options, split=split, seed=seed), dataset, 'results',
                          False)
    model = runs.load_run(run, runs.AE, data[0].shape[1])
    return dict(label=label, seed=seed, command=run['command'],
                test_mse=run['record']['test_loss_values'][-1],
                probe=runs.probe(runs.codes(model, data[0]), runs.codes(model, data[1]), labels),
                seconds=runs.seconds_of(run['record']))


# ---------------------------------------------------------------- pictures

def front_figure(study, chosen, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    import reproduce
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == 'COMPLETE']
    front = sorted(study.best_trials, key=lambda t: t.values)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([t.values[0] for t in done], [100 * t.values[1] for t in done], s=14,
               color='0.6', label=f'trials ({len(done)}, one seed each)')
    ax.plot([t.values[0] for t in front], [100 * t.values[1] for t in front], 'o-',
            color='tab:blue', markersize=5, label='Pareto front')
    for i, (letter, (label, t)) in enumerate(zip('ABC', chosen.items())):
        ax.annotate(f'{letter}: trial {t.number}', (t.values[0], 100 * t.values[1]),
                    textcoords='offset points', xytext=(6, 10 if i % 2 else -16), color='tab:red')
    ax.set_xscale('log')
    ax.set_xlabel('validation MSE (last 10,000 MNIST training images)')
    ax.set_ylabel('probe accuracy on the validation images (%)')
    ax.set_title('autoencoder.py on MNIST: reconstruction against linear separability',
                 fontsize=10)
    ax.legend(loc='lower left', fontsize=8)
    fig.tight_layout()
    reproduce.save_figure(fig, path)
    plt.close(fig)


def importances(study):
    """fANOVA importances of the parameters for each objective: {objective: {param: share}}."""
    import optuna
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return {name: optuna.importance.get_param_importances(
        study, evaluator=evaluator, target=lambda t, i=i: t.values[i], normalize=True)
        for i, name in enumerate(('validation MSE', 'probe accuracy'))}


# ---------------------------------------------------------------- the page

def page(study, chosen, results, shares, rho, header, pictures, prefix='', brief=False):
    """The Markdown of the search's results; brief (the README's): the front's picture, the
    retrained settings and the findings."""
    front = [] if brief else [
             '### The front: the best trials and their commands', '',
             'Every trial is one seed (the script\'s seed 1) on the validation split; a trial '
             'on the front is not beaten on both measures by any other.', '',
             '| trial | activation | noise | dropout | hidden | optimizer | learning rate | '
             'epochs | validation MSE | probe accuracy |', '| --- ' * 10 + '|']
    lines = [header, '', f'![The Pareto front]({prefix}search_front.png)', ''] + front
    for t in ([] if brief else sorted(study.best_trials, key=lambda t: t.values)):
        o = t.user_attrs['options']
        lines.append(f'| {t.number} | {o["activate"]} | {o["corruption_ratio"]:.2f} | '
                     f'{o["dropout_ratio"]:.2f} | {o["n_hidden"]} | {o["optimizer"]} | '
                     f'{o.get("lr") or "its own"} | {o["epoch"]} | {t.values[0]:.5f} | '
                     f'{t.values[1]:.2%} |')
    if not brief:
        lines += ['', 'Their commands:', '', '```']
        lines += [f'{t.number}: {t.user_attrs["command"]}'
                  for t in sorted(study.best_trials, key=lambda t: t.values)]
        lines += ['```', '', '### What matters: parameter importances (fANOVA)', '',
                  '| parameter | ' + ' | '.join(shares) + ' |',
                  '| --- ' * (len(shares) + 1) + '|']
        params = sorted(next(iter(shares.values())), key=lambda p: -shares['validation MSE'][p])
        lines += [f'| {p} | ' + ' | '.join(f'{s.get(p, 0):.2f}' for s in shares.values())
                  + ' |' for p in params]
    lines += ['', '### Retrained on the training set, measured once on the test set', '',
              f'Each setting with seeds {", ".join(map(str, SEEDS))}; mean ± sample standard '
              f'deviation over the {len(SEEDS)} seeds. The probe: a logistic regression fitted '
              f'on the codes of the training images, its accuracy on the test images.', '',
              '| | setting | test MSE | probe accuracy |', '| --- | --- | --- | --- |']
    for letter, (label, rows) in zip('ABCDEFG', results.items()):
        mse, acc = spread([r['test_mse'] for r in rows]), spread([r['probe'] for r in rows])
        lines.append(f'| {letter} | {label} | {mse[0]:.5f} ± {mse[1]:.5f} | '
                     f'{acc[0]:.2%} ± {acc[1]:.2%} |')
    lines += ['', 'Commands, seed 1 (the other seeds: `--seed 2` ... `--seed 5`):', '', '```']
    lines += [f'{letter}: {rows[0]["command"]}' for letter, rows in zip('ABCDEFG',
                                                                         results.values())]
    lines += ['```', '', '### What the numbers say', '']
    lines += findings(results, rho, len([t for t in study.get_trials(deepcopy=False)
                                         if t.state.name == 'COMPLETE']))
    if brief:
        lines += ['', f'The front\'s trials, their commands, the parameter importances and '
                      f'the filters: [{prefix}search.md]({prefix}search.md).']
        return '\n'.join(lines).replace('\n\n\n', '\n\n') + '\n'
    lines += ['', '### The filters of the three trials (first-layer weights)', '']
    for (label, t), picture in zip(chosen.items(), pictures):
        lines += [f'Trial {t.number}, {label}:', '', f'![trial {t.number}]({prefix}{picture})', '']
    return '\n'.join(lines).rstrip() + '\n'


def findings(results, rho, n_trials):
    """Sentences read from the numbers: an order is claimed only where mean +- 2 sd of the two
    settings do not overlap."""
    letters = dict(zip(results, 'ABCDEFG'))
    stats = {label: dict(mse=spread([r['test_mse'] for r in rows]),
                         probe=spread([r['probe'] for r in rows]))
             for label, rows in results.items()}
    out = [f'- The rule: one setting is said to be better than another only where their mean ± '
           f'2 sd over the {len(SEEDS)} seeds do not overlap; otherwise they are not '
           f'distinguishable with this many seeds.']
    for key, word, sign in (('mse', 'Test MSE', 1), ('probe', 'Probe accuracy', -1)):
        best = min(stats, key=lambda s: sign * stats[s][key][0])
        beaten = [letters[s] for s in stats if s != best and apart(stats[best][key], stats[s][key])]
        tied = [letters[s] for s in stats if s != best and s not in
                {k for k in stats if letters[k] in beaten}]
        out.append(f'- **{word}**: {letters[best]} ({best}) has the '
                   f'{"lowest" if sign > 0 else "highest"} mean; '
                   + (f'better than {", ".join(beaten)} beyond the spread' if beaten else
                      'better than none of the others beyond the spread')
                   + (f'; not distinguishable from {", ".join(tied)}' if tied else '') + '.')
    mse_best = min(stats, key=lambda s: stats[s]['mse'][0])
    probe_best = max(stats, key=lambda s: stats[s]['probe'][0])
    same = mse_best == probe_best
    out.append(
        f'- **Does a lower reconstruction error mean more useful features?** Over the '
        f'{n_trials} trials of the study (one seed each, validation split) the rank correlation '
        f'of the validation MSE with the probe accuracy is {rho[0]:+.2f} (Spearman; p = '
        f'{rho[1]:.2g}): ' + ('a lower error goes with a higher accuracy' if rho[0] < 0 and
                              rho[1] < .05 else 'a lower error goes with a lower accuracy'
                              if rho[0] > 0 and rho[1] < .05 else 'no relation beyond chance')
        + '. Retrained with 5 seeds, ' + (
            f'the setting of the lowest test MSE, {letters[mse_best]}, also has the highest '
            f'probe accuracy.' if same else
            f'the setting of the lowest test MSE is {letters[mse_best]}, that of the highest '
            f'probe accuracy {letters[probe_best]}' + (
                ', and the two differ beyond the spread on ' + ' and '.join(
                    w for k, w in (('mse', 'test MSE'), ('probe', 'probe accuracy'))
                    if apart(stats[mse_best][k], stats[probe_best][k])) if any(
                    apart(stats[mse_best][k], stats[probe_best][k]) for k in ('mse', 'probe'))
                else ', but they are not distinguishable beyond the spread') + '.'
            + (' So here the lowest reconstruction error did not give the most linearly '
               'separable code.' if not same and apart(stats[mse_best]['probe'],
                                                       stats[probe_best]['probe']) else '')))
    return out


# ---------------------------------------------------------------- command line

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog='search_report.py', description=__doc__.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--n-trials', type=int, default=60, help="the study's finished trials")
    p.add_argument('--jobs', type=int, default=2, help='workers, and runs retrained at once')
    p.add_argument('--dataset', default='mnist', choices=('mnist', 'digits'),
                   help='digits: a quick look, retrained on the random split')
    p.add_argument('--out', type=os.path.expanduser, default=None,
                   help='default: figures/ for MNIST (and README.md is updated), '
                        'results/search-digits/ otherwise')
    utils.one_line_errors(p)
    for problem in chainer_compat.check():
        p.error(problem)
    args = p.parse_args(argv)
    import runs
    import search
    os.chdir(runs.ROOT)  # the runs in results/, as the commands shown have them
    status = search.main(['autoencoder.py', '--n-trials', str(args.n_trials), '--jobs',
                          str(args.jobs), '--dataset', args.dataset, '--sampler-seed', '0'],
                         prog=p.prog)
    if status:
        return status
    return report(args, argv)


def report(args, argv):
    import optuna
    from scipy.stats import spearmanr
    from threadpoolctl import threadpool_limits

    import reproduce
    import runs
    import search
    import utils
    storage = search.open_storage('sqlite:///results/search.db', 60)
    name = f'autoencoder-{args.dataset}-both'
    study = optuna.load_study(study_name=name, storage=storage)
    official = args.out is None and args.dataset == 'mnist'
    out = args.out or ('figures' if official else os.path.join('results', 'search-digits'))
    utils.check_writable_dir('out', out)
    split = 'official' if args.dataset == 'mnist' else 'random'
    seed = runs.script_module(runs.AE).HYPERPARAMETERS['split_seed']
    (data, labels) = utils.load_mnist(dataset=args.dataset, split=split, seed=seed)
    tasks = [(f'{label}, seed {seed}', retrain, dict(label=label, options=options, seed=seed,
                                                     data=data, labels=labels,
                                                     dataset=args.dataset, split=split))
             for label, options in settings(study) for seed in SEEDS]
    with threadpool_limits(1):
        rows = reproduce.run_tasks(tasks, args.jobs)
    results = {}
    for row in rows:
        results.setdefault(row['label'], []).append(row)
    chosen = picks(study)
    front_figure(study, chosen, os.path.join(out, 'search_front.png'))
    pictures = []
    for trial in chosen.values():
        folder, run_name = os.path.split(trial.user_attrs['run'])
        pictures.append(runs.copy_pictures(dict(folder=folder, name=run_name), ['enc.png'],
                                           out)[0])
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == 'COMPLETE']
    rho = spearmanr([t.values[0] for t in done], [t.values[1] for t in done])
    seconds = (sum(t.user_attrs['seconds'] for t in done)  # the runs' own records: the
               + sum(r['seconds'] for r in rows))           # same whatever was read back
    command = ' '.join(['python search_report.py', *argv])
    data_words = ("MNIST (`MNIST_DIR` set): trials on its first 50,000 training images, measured "
                  "on the last 10,000; retrained on its own 60,000 / 10,000 split"
                  if args.dataset == 'mnist' else "scikit-learn's 8x8 digits, not MNIST: trials "
                  "on the validation part of the random split; retrained on the random split")
    header = (f'Made by `{command}` ({seconds / 60:.0f} minutes of training in all) on '
              f'{reproduce.machine()} '
              f'({reproduce.versions()}). Data: {data_words}. The study `{name}` of `python '
              f'search.py autoencoder.py` ({len(done)} complete trials, TPE sampler, both '
              f'objectives), then {len(rows)} runs retrained.')
    shares = importances(study)
    body = page(study, chosen, results, shares, (rho.statistic, rho.pvalue), header, pictures)
    with utils.atomic_path(os.path.join(out, 'search.md')) as tmp, open(tmp, 'w') as f:
        f.write('# What the search found\n\n' + body)
    print(f'wrote {os.path.join(out, "search.md")}')
    if official:
        brief = page(study, chosen, results, shares, (rho.statistic, rho.pvalue), header,
                     pictures, prefix='figures/', brief=True)
        reproduce.write_readme_section(os.path.join(runs.ROOT, 'README.md'),
                                       utils.wrap_prose(brief), MARKERS)
        print('updated the search section of README.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
