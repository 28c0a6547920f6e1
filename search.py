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
import math
import os
import re
import signal
import subprocess
import sys
import time
import warnings

import chainer_compat  # noqa: F401  (before Chainer: what it needs of NumPy 2, Python 3.12+)

import numpy as np
import optuna
import sqlalchemy
from threadpoolctl import threadpool_limits

import runner
import runs
import utils
from utils import ConfigError

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
DEPENDS = dict(lr='optimizer', pretrain_epoch='no_pretraining')
OBJECTIVES = dict(both=('minimize', 'maximize'), mse=('minimize',), probe=('maximize',))
FIXED = dict(split='validation')  # every trial's, whatever the command line says
NOT_HERE = ('resume', 'communicator', 'split', 'dataset', 'out')  # search.py's own, or none


# ---------------------------------------------------------------- the space

def check_space(script, space, defaults):
    """Every entry names an option of the script and gives a range or choices it accepts."""
    for name, what in space.items():
        where = f'SPACES[{script!r}][{name!r}]'
        if name not in defaults or name in NOT_HERE:
            raise ConfigError(f'{where}: {script} has no option {name!r} to search')
        ranges = what.values() if isinstance(what, dict) else [what]
        depends = DEPENDS.get(name)
        if isinstance(what, dict) and not isinstance(space.get(depends), list):
            raise ConfigError(f'{where}: ranges by value are for {", ".join(DEPENDS)}, with the '
                              f'option each depends on ({", ".join(DEPENDS.values())}) searched '
                              f'among choices')
        for r in ranges:
            if isinstance(r, list):
                if not r:
                    raise ConfigError(f'{where}: no choices')
            elif isinstance(r, tuple) and len(r) in (2, 3) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in r[:2]):
                low, high, *how = r
                if not low <= high:
                    raise ConfigError(f'{where}: the range {r!r} is empty ({low} > {high})')
                if how and not (how == ['log'] and low > 0 or isinstance(how[0], (int, float))
                                and not isinstance(how[0], bool) and how[0] > 0):
                    raise ConfigError(f"{where}: {r!r} is not (low, high), (low, high, step > 0) "
                                      f"or (low, high, 'log') with low > 0")
            else:
                raise ConfigError(f"{where}: {r!r} is not a list of choices, (low, high), "
                                  f"(low, high, step) or (low, high, 'log')")
        for value in (what if isinstance(what, dict) else []):
            if value not in space[depends]:
                raise ConfigError(f'{where}: {value!r} is not one of the {depends} searched')


def corners(space):
    """Settings that together take every choice and both ends of every range, each with every
    optimizer searched (to check them with the script's own checks before anything runs)."""
    optimizers = [{'optimizer': o} for o in space.get('optimizer', [])] or [{}]
    for name, what in space.items():
        if isinstance(what, dict):
            for value, r in what.items():
                yield from ({DEPENDS[name]: value, name: v} for v in r[:2])
        else:
            yield from (dict(o, **{name: v}) for v in (what if isinstance(what, list)
                                                       else what[:2]) for o in optimizers)


def check_settings(module, arguments):
    """The script's own checks of a full set of arguments, without loading any data."""
    a = arguments
    check_counts(module, a)
    module.check_training(a['dropout_ratio'], a['activate'], a['optimizer'], a['corruption_ratio'],
                          a['code_activate'], a['loss'], a['lr'], a['lr_decay'],
                          a['weight_decay'], a['momentum_max'])


def check_counts(module, arguments):
    """The checks of options that hold whatever the others are: counts, seeds, layer sizes."""
    for name in ('n_hidden', 'epoch', 'pretrain_epoch', 'finetune_epoch', 'batchsize'):
        if name in arguments:
            utils.check_int(name, arguments[name])
    for name in ('seed', 'split_seed'):
        utils.check_int(name, arguments[name], minimum=0)
    if 'n_hidden_layers' in arguments:
        module.check_sizes(arguments['n_hidden_layers'])


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


# ---------------------------------------------------------------- a trial

class Stop:
    """The signal a worker was sent (SIGINT, SIGTERM); it is obeyed where the study is
    consistent: at once while a probe is computed, else once the trial's run has stopped."""
    signum = None
    at_once = False


class TrialInterrupted(KeyboardInterrupt):
    """A trial stopped by a signal: Optuna fails it, and its settings are queued again."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def on_signal(signum, frame=None):
    Stop.signum = signum
    for process in list(runs._processes):  # the trial's run stops at its minibatch's end
        if process.poll() is None:
            process.send_signal(signum)
    if Stop.at_once:
        raise TrialInterrupted(signum)


class Objective:
    """A trial: its settings' run, the measures it is judged by, its attributes."""

    def __init__(self, args, fixed, module, data=None):
        self.args, self.fixed, self.module = args, fixed, module
        self.space = SPACES[args.script]
        self.data = data  # the validation split, loaded once (by check, or at the first probe)

    def __call__(self, trial):
        args = self.args
        self.number = trial.number
        if Stop.signum:
            raise TrialInterrupted(Stop.signum)
        options = {k: float(format(v, 'g')) if isinstance(v, float) else v  # as the command has it
                   for k, v in dict(self.fixed, **suggest(trial, self.space)).items()}
        command = runs.command_line(args.script, options, args.dataset)
        trial.set_user_attr('options', options)
        trial.set_user_attr('command', runs.shown_command(
            command + (['--out', args.out] if args.out != 'results' else [])))
        prune = args.objective == 'mse'
        try:
            run = runs.script_run(args.script, options, args.dataset, args.out, False,
                                  tag=f'trial {trial.number}', caller='search.py',
                                  on_line=lambda line: prune and self.report(trial, line))
        except runs.StoppedEarly:
            raise optuna.TrialPruned(f'validation MSE above the median at epoch '
                                     f'{self.last_epoch}') from None
        except runner.Interrupted as e:
            raise TrialInterrupted(e.signum) from None
        record = run['record']
        folder = os.path.relpath(os.path.join(run['folder'], run['name']), runs.ROOT)
        mse = record['test_loss_values'][-1]
        trial.set_user_attr('run', folder)
        trial.set_user_attr('reused', run['cached'])
        trial.set_user_attr('validation_mse', mse)
        trial.set_user_attr('train_mse', record['loss_values'][-1])
        trial.set_user_attr('seconds', runs.seconds_of(record))
        if not math.isfinite(mse):
            trial.set_user_attr('diverged', True)
            return (math.nan,) * len(OBJECTIVES[args.objective])
        values = {'mse': mse}
        if args.objective != 'mse':
            t0 = time.perf_counter()
            values['probe'] = self.probe(run)
            trial.set_user_attr('probe_accuracy', values['probe'])
            trial.set_user_attr('probe_seconds', time.perf_counter() - t0)
        return tuple(values[o] for o in (('mse', 'probe') if args.objective == 'both'
                                         else (args.objective,)))

    def report(self, trial, line):
        """An epoch's line of the run: its validation MSE reported; True to prune the trial."""
        match = re.match(r'(?:fine-tune )?epoch (\d+)/\d+\s+train \S+\s+test (\S+)', line)
        if not match:
            return False
        trial.report(float(match.group(2)), int(match.group(1)))
        self.last_epoch = int(match.group(1))
        return trial.should_prune()

    def probe(self, run):
        """The probe's validation accuracy on the run's codes (the one probe of reproduce.py)."""
        if self.data is None:
            self.data = validation_data(self.args.dataset, self.fixed, self.module)
        (x_train, x_valid), labels = self.data
        model = runs.load_run(run, self.args.script, x_train.shape[1])
        Stop.at_once = True  # nothing of the study is being written: a signal stops it here
        try:
            if Stop.signum:
                raise TrialInterrupted(Stop.signum)
            return runs.probe(runs.codes(model, x_train), runs.codes(model, x_valid), labels)
        finally:
            Stop.at_once = False


# ---------------------------------------------------------------- the study and its workers

def open_storage(url, heartbeat):
    """Optuna's RDBStorage at a SQLAlchemy URL, with heartbeats and stale trials retried."""
    warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a line a trial is printed here instead
    try:
        shown = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        raise ConfigError(f'storage: {url!r} is not a database URL (e.g. '
                          f'sqlite:///results/search.db, postgresql://user@host/db)') from None
    sqlite = url.startswith('sqlite')
    if url.startswith('postgresql://'):  # SQLAlchemy 2.0 would take psycopg2: the driver installed
        url = 'postgresql+psycopg://' + url[len('postgresql://'):]
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=dict(connect_args={'timeout': 60}) if sqlite else
                dict(pool_pre_ping=True), heartbeat_interval=heartbeat,
                grace_period=2 * heartbeat,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback())
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == 4:  # workers started together on a new database: one makes the
                raise         # tables, the others collide with it, wait and find them made
            time.sleep(1 + attempt)
        except Exception as e:  # no driver, no server, no such database, refused
            reason = ' '.join(str(e).split('\n')[0].split()) or type(e).__name__
            raise ConfigError(f'storage: cannot open {shown}: {reason}') from None


def open_study(args, fixed, storage):
    """The study --study-name in the storage, made now if it is new; refused if it was made
    for another script, data set, objective or fixed options."""
    made_for = dict(script=args.script, dataset=args.dataset, objective=args.objective,
                    fixed={k: list(v) if isinstance(v, tuple) else v for k, v in fixed.items()})
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
              if args.objective == 'mse' else optuna.pruners.NopPruner())
    kwargs = dict(study_name=args.study_name, storage=storage, pruner=pruner,
                  sampler=optuna.samplers.TPESampler(seed=args.sampler_seed))
    try:
        study = optuna.load_study(**kwargs)
    except KeyError:
        try:
            study = optuna.create_study(directions=list(OBJECTIVES[args.objective]), **kwargs)
            study.set_user_attr('search', made_for)
        except optuna.exceptions.DuplicatedStudyError:  # another worker made it just now
            study = optuna.load_study(**kwargs)
    if args.sampler_seed is not None:  # each worker's draws its own, going on where the study is
        study.sampler = optuna.samplers.TPESampler(seed=int(np.random.SeedSequence(
            [args.sampler_seed, args.worker, len(study.get_trials(deepcopy=False))]
        ).generate_state(1)[0]))
    theirs = study.user_attrs.get('search')
    if theirs != made_for:
        differ = [f'{k} {theirs.get(k)!r}, not {v!r}' for k, v in made_for.items()
                  if theirs and theirs.get(k) != v] if theirs else ['another program']
        raise ConfigError(f'study {args.study_name!r} in this storage was made for '
                          f'{"; ".join(differ)}: give another --study-name')
    return study


def counts(study):
    states = [t.state for t in study.get_trials(deepcopy=False)]
    S = optuna.trial.TrialState
    return dict(finished=states.count(S.COMPLETE) + states.count(S.PRUNED),
                running=states.count(S.RUNNING), waiting=states.count(S.WAITING))


def work(study, objective, n_trials, poll):
    """Run trials until the study has n_trials finished ones (complete or pruned) and none
    running. A worker starts a trial only while the finished and running ones are fewer than
    n_trials, or one is waiting (a stopped trial's settings again); otherwise it waits for the
    others' trials to end, or to be failed by their heartbeat (and so queued again)."""
    failed_in_a_row = 0
    while True:
        objective.number = None
        optuna.storages.fail_stale_trials(study)
        n = counts(study)
        if n['finished'] >= n_trials and not n['running']:
            return
        if n['finished'] >= n_trials or (n['finished'] + n['running'] >= n_trials
                                         and not n['waiting']):
            wait(poll)
            continue
        try:
            study.optimize(objective, n_trials=1, catch=(RuntimeError,))
        except (TrialInterrupted, runs.WriteFailed):
            retry(study, objective.number)
            raise
        trial = trial_of(study, objective.number)
        runs.say(f'trial {trial.number}: {outcome(trial)}')
        failed_in_a_row = failed_in_a_row + 1 if trial.state.name == 'FAIL' else 0
        if failed_in_a_row == 3:
            raise RuntimeError('three trials in a row failed (see their lines above)')


def wait(seconds):
    if Stop.signum:
        raise TrialInterrupted(Stop.signum)
    Stop.at_once = True
    try:
        time.sleep(seconds)
    finally:
        Stop.at_once = False


def trial_of(study, number):
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def retry(study, number):
    """A trial that a signal or a full disk stopped: failed, its settings queued again (its run
    goes on from its snapshot)."""
    if number is None:
        return
    trial = trial_of(study, number)
    if trial.state == optuna.trial.TrialState.FAIL:
        optuna.storages.RetryHeartbeatStaleTrialCallback()(study, trial)
        print(f'trial {number} stopped; its settings are queued for the next worker',
              file=sys.stderr)


def outcome(trial):
    a = trial.user_attrs
    if trial.state.name == 'FAIL':
        return 'failed' + (' (the run diverged)' if a.get('diverged') else '')
    words = [f'validation MSE {a["validation_mse"]:.5f}' if 'validation_mse' in a else '',
             f'probe {a["probe_accuracy"]:.2%}' if 'probe_accuracy' in a else '',
             'pruned' if trial.state.name == 'PRUNED' else '',
             'its run read back' if a.get('reused') else '',
             f'the settings of trial {trial.system_attrs["failed_trial"]} again'
             if 'failed_trial' in trial.system_attrs else '']
    return ', '.join(w for w in words if w)


def launch(argv, jobs):
    """--jobs N: N - 1 more workers, each this command with --jobs 1 (one BLAS thread each);
    this process is the first."""
    workers = [subprocess.Popen([sys.executable, '-u', os.path.abspath(__file__), *argv,
                                 '--jobs', '1', '--worker', str(i)],
                                env=dict(os.environ, **runs.ONE_THREAD),
                                preexec_fn=runs.terminate_with_parent) for i in range(1, jobs)]
    runs._processes.update(workers)  # a signal is passed on to them (on_signal)
    return workers


def ended(workers):
    """Wait for the other workers; the exit status their ends call for."""
    codes = [w.wait() for w in workers]
    for i, code in enumerate(codes, 1):
        if code < 0:
            print(f'worker {i} was killed ({signal.Signals(-code).name}); its trial is failed '
                  f'by its heartbeat and tried again', file=sys.stderr)
    stopped = [c for c in codes if c in (128 + signal.SIGINT, 128 + signal.SIGTERM)]
    return stopped[0] if stopped else max(codes, default=0)  # a killed one: see main


def summary(study, args):
    """The trials that are best, with the command of each."""
    done = [t for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return
    what = 'the Pareto front' if args.objective == 'both' else 'the best trial'
    lines = [f'{what} of {len(done)} complete trials:']
    for t in sorted(study.best_trials, key=lambda t: t.values[0]):
        lines += [f'  trial {t.number}: {outcome(t)}', f'    {t.user_attrs["command"]}']
    lines.append(f'to look at the study: optuna-dashboard {args.storage}  (make dashboard)')
    print('\n'.join(lines))


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
    utils.one_line_errors(p)
    for problem in chainer_compat.check():
        p.error(problem)
    args, rest = p.parse_known_args(argv)
    handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        fixed, module, data = check(args, rest)
        storage = open_storage(args.storage, args.heartbeat)
        study = open_study(args, fixed, storage)
        others = launch(argv, args.jobs)
        try:
            with threadpool_limits(1):  # this worker's probes too: one BLAS thread a worker
                work(study, Objective(args, fixed, module, data), args.n_trials,
                     poll=min(args.heartbeat, 5))
        finally:
            status = ended(others)
        if args.worker:
            return status
        n = counts(study)
        print(f'study {args.study_name!r} in {args.storage}: {n["finished"]} finished trials '
              f'(--n-trials {args.n_trials}), {n["running"]} running')
        summary(study, args)
        return status if status > 0 else int(n['finished'] < args.n_trials or n['running'] > 0)
    except utils.ConfigError as e:
        p.error(str(e))
    except (utils.WriteError, runs.WriteFailed) as e:
        print(f'{p.prog}: error: {e}', file=sys.stderr)
        return 1
    except TrialInterrupted as e:
        print(f'{p.prog}: stopped by {e}; run the same command again to go on', file=sys.stderr)
        return 128 + e.signum
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def check(args, rest):
    """Everything about the command, before any trial: the script's options fixed by the
    command line, the space, the counts, the data. Returns the fixed options, the script and
    (but in a worker that --jobs started) the validation data."""
    for name in ('n_trials', 'jobs', 'heartbeat'):
        utils.check_int(f'--{name.replace("_", "-")}', getattr(args, name))
    module = runs.script_module(args.script)
    parser = module.argument_parser(module.HYPERPARAMETERS)
    parser.error = lambda message: (_ for _ in ()).throw(ConfigError(f'{args.script}: {message}'))
    given = vars(parser.parse_args(rest, namespace=argparse.Namespace(
        **{a.dest: runner.NOT_GIVEN for a in parser._actions if a.dest != 'help'})))
    given = {k: v for k, v in given.items() if v is not runner.NOT_GIVEN}
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
    words = lambda e: utils.in_option_words(str(e), parser)  # noqa: E731
    try:  # the options given, in their own words first
        check_counts(module, dict(module.HYPERPARAMETERS, **fixed))
    except ConfigError as e:
        raise ConfigError(f'{args.script}: {words(e)}') from None
    check_space(args.script, SPACES[args.script], module.HYPERPARAMETERS)
    for corner in corners(SPACES[args.script]):
        try:
            check_settings(module, dict(module.HYPERPARAMETERS, **fixed, **corner))
        except ConfigError as e:
            raise ConfigError(f'SPACES[{args.script!r}] with {corner}: {words(e)}') from None
    runner.get_device(fixed.get('device', '@numpy'))
    utils.check_writable_dir('out', args.out)
    args.storage = args.storage or f'sqlite:///{os.path.join(args.out, "search.db")}'
    args.study_name = args.study_name or '-'.join(
        [args.script[:-3], args.dataset, args.objective]
        + [f'{k}={" ".join(map(str, v)) if isinstance(v, (list, tuple)) else v}'
           for k, v in sorted(given.items())])
    # MNIST there, before any trial (a worker that --jobs started: the first one looked)
    return fixed, module, None if args.worker else validation_data(args.dataset, fixed, module)


def validation_data(dataset, fixed, module):
    """The trials' data: the validation split, seeded as their runs are."""
    return utils.load_mnist(dataset=dataset, split='validation',
                            seed=fixed.get('split_seed', module.HYPERPARAMETERS['split_seed']))


if __name__ == '__main__':
    sys.exit(main())
