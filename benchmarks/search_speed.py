"""What search.py costs, on an idle machine (a command, not a test):

    MNIST_DIR=~/data/mnist python benchmarks/search_speed.py --markdown docs/engineering.md

1. A trial against its command alone: the same fixed settings, enqueued into a new study and
   run by `search.py --objective mse --jobs 1`, against the same commands typed one after
   the other (each with a new output folder, so nothing is read back). The ratio of the wall
   times is what a trial adds: a process that starts the run, the study's database, the lines
   read. The probe (--objective both or probe) is timed apart, by the trials themselves
   (user attribute probe_seconds): it is a measurement the command alone does not make.
2. --jobs 2 against --jobs 1 on the same enqueued set, one BLAS thread per worker.
The two orders alternate over --repeat rounds; the medians are given.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import lab.compat  # noqa: E402,F401  (before Chainer)
import optuna  # noqa: E402

import utils  # noqa: E402
from lab import children, machine, report  # noqa: E402
from lab.study import FIXED, OBJECTIVES  # noqa: E402

TEMPLATES = os.path.join(ROOT, 'benchmarks', 'templates')

BASE = dict(activate='sigmoid', dropout_ratio=.1, corruption_ratio=.3, optimizer='Adam',
            epoch=8)
SETTINGS = [dict(BASE, n_hidden=n, **{'lr (Adam)': lr})  # six trials of about the same size
            for n in (64, 100, 144) for lr in (.001, .003)]


def enqueued_study(storage, dataset, objective):
    """A new study as search.py makes it, holding SETTINGS as waiting trials."""
    study = optuna.create_study(study_name='bench', storage=storage,
                                directions=list(OBJECTIVES[objective]))
    study.set_user_attr('search', dict(script='autoencoder.py', dataset=dataset,
                                       objective=objective, fixed=dict(FIXED)))
    for params in SETTINGS:
        study.enqueue_trial(params)
    return study


def timed_search(dataset, jobs, objective):
    """Wall seconds of search.py over SETTINGS in a new folder; the study's trials."""
    with tempfile.TemporaryDirectory() as folder:
        storage = f'sqlite:///{folder}/search.db'
        enqueued_study(storage, dataset, objective)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(ROOT, 'search.py'), 'autoencoder.py',
                        '--dataset', dataset, '--objective', objective, '--study-name', 'bench',
                        '--storage', storage, '--out', folder, '--jobs', str(jobs),
                        '--n-trials', str(len(SETTINGS))], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, **children.ONE_THREAD))
        seconds = time.perf_counter() - t0
        trials = optuna.load_study(study_name='bench', storage=storage).get_trials()
        return seconds, [t for t in trials if t.state.name == 'COMPLETE']


def options(params):
    """A trial's options (search.py's user attribute) from its parameters."""
    return dict(FIXED, **{name.split(' (')[0]: value for name, value in params.items()})


def commands(dataset):
    """The command of each of SETTINGS, as its trial makes it."""
    return [children.command_line('autoencoder.py', options(params), dataset)
            for params in SETTINGS]


def timed_commands(dataset):
    """Wall seconds of the SETTINGS' commands, typed one after the other."""
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        for args in commands(dataset):
            subprocess.run([sys.executable, *args, '--out', folder], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL, env=dict(os.environ, **children.ONE_THREAD))
        return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeat', type=int, default=2)
    p.add_argument('--dataset', default='mnist', choices=('mnist', 'digits'))
    p.add_argument('--markdown', help='write the table into this file, between markers')
    args = p.parse_args(argv)
    utils.load_mnist(dataset=args.dataset, split='validation')  # there, before any timing
    times = {k: [] for k in ('search', 'commands', 'jobs 2', 'probe')}
    for i in range(args.repeat):  # both orders alternate: search first, then the commands first
        order = (('search', 'commands') if i % 2 == 0 else ('commands', 'search'))
        for what in order:
            if what == 'search':
                seconds, trials = timed_search(args.dataset, 1, 'both')
                times['search'].append(seconds - sum(t.user_attrs['probe_seconds']
                                                     for t in trials))
                times['probe'] += [t.user_attrs['probe_seconds'] for t in trials]
                same = lambda o: json.dumps(o, sort_keys=True)  # noqa: E731
                assert sorted(same(t.user_attrs['options']) for t in trials) == sorted(
                    same(options(p)) for p in SETTINGS)  # the same runs as the commands'
            else:
                times['commands'].append(timed_commands(args.dataset))
        times['jobs 2'].append(timed_search(args.dataset, 2, 'mse')[0])
        print(f'round {i + 1}: trials --jobs 1 (less their probes) {times["search"][-1]:.1f} s, '
              f'their commands alone {times["commands"][-1]:.1f} s, --jobs 2 '
              f'{times["jobs 2"][-1]:.1f} s', flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    ratios = [s / c for s, c in zip(times['search'], times['commands'])]
    speedups = [s / j for s, j in zip(times['search'], times['jobs 2'])]
    numbers = dict(command=f'python benchmarks/search_speed.py --repeat {args.repeat}',
                   **machine.describe(), dataset=args.dataset, trials=len(SETTINGS),
                   base=json.dumps(BASE), repeat=args.repeat, median=median, ratios=ratios,
                   speedups=speedups, probes=len(times['probe']))
    print(report.render('search-speed.md.j2', TEMPLATES, **numbers))
    if args.markdown:
        report.write_block(args.markdown, 'search-speed', numbers, TEMPLATES)
    return 0


if __name__ == '__main__':
    sys.exit(main())
