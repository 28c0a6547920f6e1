"""Search a script's hyperparameters with Optuna: the search the original's author did by hand.

    python search.py autoencoder.py --n-trials 60 --jobs 2     # MNIST (MNIST_DIR), both cores
    python search.py autoencoder.py --objective mse --epoch 10  # options not searched: the script's
    python search.py deep_autoencoder.py --dataset digits --n-trials 8   # a quick look

Every trial is a run of the script, `python autoencoder.py ... --split validation`: it trains
on MNIST's first 50,000 training images and is measured on the last 10,000 (the digits: the
random split's training part, its last quarter held out), never on the test set. The trial
keeps that command (user attribute `command`); typed by hand it gives the trial's losses.
A trial whose settings equal a run that finished before reads that run back (`reused`), and
a trial stopped before its end (Ctrl-C, a killed worker) is retried from the run's snapshot.

Objectives (--objective):
  both    minimise the validation MSE and maximise the probe's validation accuracy (a logistic
          regression on the codes: reproduce.py's probe): the Pareto front of the two answers
          the author's doubt whether a lower loss means more useful features
  mse     the validation MSE alone, pruned by epoch with Optuna's MedianPruner: a trial stops
          when after an epoch (from the third on) its error is worse than the median of the
          earlier trials at that epoch. The median compares like with like whatever a trial's
          length (the epochs are searched; Hyperband's rungs assume one budget for all), and
          has no budget to tune: with tens of trials, the safest choice
  probe   the probe's validation accuracy alone (not pruned: it exists only once training ends,
          and whether the MSE foretells it is the question)

The study (--storage, any SQLAlchemy URL) is by default an SQLite file, results/search.db;
with a PostgreSQL or MySQL URL the same command on several machines shares one study. Each
worker beats a heartbeat into it: a worker killed mid-trial has that trial failed when its
heartbeat is --heartbeat x 2 seconds old, and its settings tried again by the next worker.
"""
import argparse
import os
import sys
import time

import optuna

import autoencoder
import deep_autoencoder
import utils
from lab import children, cli, options, signals, study
from lab.files import check_writable_dir
from lab.options import ConfigError
from lab.study import DEPENDS, FIXED, NOT_HERE, OBJECTIVES

# The search space of each script, by option (the names of its HYPERPARAMETERS):
#   [a, b, c]           one of these
#   (low, high)         a number in [low, high]; an integer where both ends are integers
#   (low, high, step)   the same, on a grid of that step (a ratio's is .01: a run's name
#                       shows it in percent, so two runs never share a name)
#   (low, high, 'log')  the same, drawn on a log scale
#   {value: range}      for an option that depends on another (DEPENDS): its range where that
#                       one has this value; elsewhere the script's default (lr: AdaDelta has
#                       none; pretrain_epoch: no pretraining, none)
# An option not named here is the script's own default, or what the command line sets.
SPACES = {
    'autoencoder.py': dict(
        activate=['sigmoid', 'relu', 'tanh'],
        dropout_ratio=(0., .5, .01),
        corruption_ratio=(0., .5, .01),
        n_hidden=(25, 400, 'log'),
        optimizer=['Adam', 'AdaDelta', 'MomentumSGD'],
        lr=dict(Adam=(1e-4, 1e-2, 'log'), MomentumSGD=(1e-3, 1., 'log')),
        epoch=(5, 30),
    ),
    'deep_autoencoder.py': dict(
        activate=['sigmoid', 'relu', 'tanh'],
        dropout_ratio=(0., .5, .01),
        corruption_ratio=(0., .5, .01),
        n_hidden_layers=[(100, 25), (784, 100), (256, 64), (500, 250)],
        optimizer=['Adam', 'AdaDelta'],
        lr=dict(Adam=(1e-4, 1e-2, 'log')),
        no_pretraining=[False, True],
        pretrain_epoch={False: (1, 20)},
        finetune_epoch=(5, 30),
    ),
}
SCRIPTS = {script.name: script for script in map(children.Script, (autoencoder, deep_autoencoder))}


def suggest(trial, space):
    """One setting drawn from the space: {option: value}."""
    params = {}
    for name, what in space.items():
        if isinstance(what, dict):  # drawn where the option it depends on has a key's value
            value = params.get(DEPENDS[name])
            if value in what:
                params[name] = draw(trial, f'{name} ({value})' if len(what) > 1 or name == 'lr'
                                    else name, what[value])
        else:
            params[name] = draw(trial, name, what)
    return params


def draw(trial, name, what):
    if isinstance(what, list):  # sizes (a tuple) are one choice, shown as '100 25'
        shown = [' '.join(map(str, c)) if isinstance(c, (list, tuple)) else c for c in what]
        return what[shown.index(trial.suggest_categorical(name, shown))]
    low, high, *how = what
    log, step = how == ['log'], None if how in ([], ['log']) else how[0]
    if isinstance(low, int) and isinstance(high, int):
        return trial.suggest_int(name, low, high, log=log, step=step or 1)
    return trial.suggest_float(name, low, high, log=log, step=step)


class Objective:
    """A trial: its settings' run, the measures it is judged by, its attributes."""

    def __init__(self, args, fixed, data=None):
        self.args, self.fixed, self.script = args, fixed, SCRIPTS[args.script]
        self.space = SPACES[args.script]
        self.data = data  # the validation split, loaded once (by check, or at the first probe)

    def __call__(self, trial):
        args = self.args
        self.number = trial.number
        signals.stop_requested()
        options = {k: float(format(v, 'g')) if isinstance(v, float) else v  # as the command has it
                   for k, v in dict(self.fixed, **suggest(trial, self.space)).items()}
        command = children.command_line(args.script, options, args.dataset)
        trial.set_user_attr('options', options)
        trial.set_user_attr('command', children.shown_command(
            command + (['--out', args.out] if args.out != 'results' else [])))
        prune = args.objective == 'mse'
        try:
            run = children.script_run(self.script, options, args.dataset, args.out, False,
                                  tag=f'trial {trial.number}', caller='search.py',
                                  on_epoch=prune and (lambda entry: self.report(trial, entry)),
                                  stop=signals.stop_requested)
        except children.StoppedEarly:
            raise optuna.TrialPruned(f'validation MSE above the median at epoch '
                                     f'{self.last_epoch}') from None
        except signals.Killed as e:  # failed (and its settings not tried again), said why
            trial.set_user_attr('error', str(e))
            raise
        record = run['record']
        trial.set_user_attr('run', os.path.relpath(os.path.join(run['folder'], run['name']),
                                                   children.ROOT))
        trial.set_user_attr('reused', run['cached'])
        trial.set_user_attr('seconds', children.seconds_of(record))
        if 'diverged' in record:  # pruned: counted, never retried, not a failure
            trial.set_user_attr('diverged', record['diverged']['words'])
            raise optuna.TrialPruned(f'the run diverged: {record["diverged"]["words"]}')
        values = {'mse': record['test_loss_values'][-1]}
        trial.set_user_attr('validation_mse', values['mse'])
        trial.set_user_attr('train_mse', record['loss_values'][-1])
        if args.objective != 'mse':
            t0 = time.perf_counter()
            values['probe'] = self.probe(run)
            trial.set_user_attr('probe_accuracy', values['probe'])
            trial.set_user_attr('probe_seconds', time.perf_counter() - t0)
        return tuple(values[o] for o in (('mse', 'probe') if args.objective == 'both'
                                         else (args.objective,)))

    def report(self, trial, entry):
        """An epoch of the run (an entry of its log.json): its validation MSE reported, after
        fine-tuning's epochs only for a deep one; True to prune the trial."""
        if entry['phase'] not in ('', 'fine-tune'):
            return False
        trial.report(entry['test'], entry['epoch'])
        self.last_epoch = entry['epoch']
        return trial.should_prune()

    def probe(self, run):
        """The probe's validation accuracy on the run's codes (the one probe of reproduce.py)."""
        if self.data is None:
            self.data = validation_data(self.args.dataset, self.fixed, self.script)
        (x_train, x_valid), labels = self.data
        model = children.load_run(run, self.script, x_train.shape[1])
        with signals.at_once():  # nothing of the study is being written: a signal stops it here
            return children.probe(children.codes(model, x_train),
                                  children.codes(model, x_valid), labels)


def main(argv=None, prog='search.py'):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__.split('\n')[0], allow_abbrev=False,
        usage='python search.py SCRIPT [options] [the script\'s own options, fixed in every trial]',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('script', choices=sorted(SPACES), help='the script whose settings to search')
    p.add_argument('--n-trials', type=int, default=20,
                   help="the study's total of finished trials (complete or pruned); run again "
                        "with more to go on")
    p.add_argument('--storage', default=None,
                   help='a SQLAlchemy URL (postgresql://user@host/db shares the study between '
                        'machines); default: sqlite:///OUT/search.db')
    p.add_argument('--study-name', default=None,
                   help='default: script-dataset-objective, and the fixed options')
    p.add_argument('--jobs', type=int, default=1, help='workers on this machine')
    p.add_argument('--objective', default='both', choices=sorted(OBJECTIVES),
                   help='mse: validation MSE; probe: linear probe accuracy; both: Pareto front')
    p.add_argument('--dataset', default='mnist', choices=('mnist', 'digits'),
                   help='mnist ($MNIST_DIR or OpenML), or the 8x8 digits for a quick look')
    p.add_argument('--out', type=os.path.expanduser, default='results',
                   help="the runs' folder (the script's --out)")
    p.add_argument('--heartbeat', type=int, default=60,
                   help="seconds between a worker's heartbeats: a trial silent for twice as "
                        "long is failed and tried again")
    p.add_argument('--sampler-seed', type=int, default=None,
                   help="seed of Optuna's TPE sampler (None: unseeded)")
    p.add_argument('--worker', type=int, default=0, help=argparse.SUPPRESS)  # i of --jobs N
    cli.prepare(p)
    args, rest = p.parse_known_args(argv)
    return cli.guarded(p, lambda: search(args, rest, argv), handler=study.on_signal,
                       again='; run the same command again to go on')


def search(args, rest, argv):
    """The study, its workers and its outcome: the exit status."""
    from threadpoolctl import threadpool_limits
    fixed, data = check(args, rest)
    storage = study.open_storage(args.storage, args.heartbeat)
    the_study = study.open_study(args, fixed, storage)
    others = study.launch(os.path.abspath(__file__), argv, args.jobs)
    try:
        with threadpool_limits(1), signals.training():  # one BLAS thread a worker; a signal
            study.work(the_study, Objective(args, fixed, data), args.n_trials,  # obeyed where
                       poll=min(args.heartbeat, 5))                     # the study is consistent
    finally:
        status = study.ended(others)
    if args.worker:
        return status
    n = study.counts(the_study)
    print(f'study {args.study_name!r} in {args.storage}: {n["finished"]} finished trials '
          f'(--n-trials {args.n_trials}), {n["running"]} running')
    study.summary(the_study, args)
    return status if status > 0 else int(n['finished'] < args.n_trials or n['running'] > 0)


def check(args, rest):
    """Everything about the command, before any trial: the script's options fixed by the
    command line, the space, the counts, the data. Returns the fixed options and (but in a
    worker that --jobs started) the validation data."""
    for name in ('n_trials', 'jobs', 'heartbeat'):
        options.check_int(f'--{name.replace("_", "-")}', getattr(args, name))
    script = SCRIPTS[args.script]
    parser = cli.parser(script.path, script.defaults)
    parser.error = lambda message: (_ for _ in ()).throw(ConfigError(f'{args.script}: {message}'))
    given = cli.given(parser, rest)
    for name in given:
        flag = '--' + name.replace('_', '-')
        if name in NOT_HERE:
            raise ConfigError(f'{flag}: not an option of a search (every trial trains on '
                              f'--split validation, resumes its own run, in one process; '
                              f'--dataset and --out are search.py\'s own)')
        if name in SPACES[args.script]:
            raise ConfigError(f'{flag} is searched (SPACES[{args.script!r}] in search.py): '
                              f'leave it off the command line, or take it out of the space')
    fixed = dict(given, **FIXED)
    words = lambda e: cli.in_option_words(str(e), parser)  # noqa: E731
    try:  # the options given, in their own words first
        options.check(fixed, rules=False)
    except ConfigError as e:
        raise ConfigError(f'{args.script}: {words(e)}') from None
    study.check_space(args.script, SPACES[args.script], script.defaults)
    for corner in study.corners(SPACES[args.script]):
        try:
            options.check(dict(script.defaults, **fixed, **corner, dataset=args.dataset))
        except ConfigError as e:
            raise ConfigError(f'SPACES[{args.script!r}] with {corner}: {words(e)}') from None
    check_writable_dir('out', args.out)
    args.storage = args.storage or f'sqlite:///{os.path.join(args.out, "search.db")}'
    args.study_name = args.study_name or '-'.join(
        [args.script[:-3], args.dataset, args.objective]
        + [f'{k}={" ".join(map(str, v)) if isinstance(v, (list, tuple)) else v}'
           for k, v in sorted(given.items())])
    # MNIST there, before any trial (a worker that --jobs started: the first one looked)
    return fixed, None if args.worker else validation_data(args.dataset, fixed, script)


def validation_data(dataset, fixed, script):
    """The trials' data: the validation split, seeded as their runs are."""
    return utils.load_mnist(dataset=dataset, split='validation',
                            seed=fixed.get('split_seed', script.defaults['split_seed']))


if __name__ == '__main__':
    sys.exit(main())
