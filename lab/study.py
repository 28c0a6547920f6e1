"""The Optuna study behind search.py: its storage, its workers, and the checks of a space.

A study lives in any SQLAlchemy storage (SQLite by default; PostgreSQL or MySQL to share it
between machines). Each worker beats a heartbeat into it: a worker killed mid-trial has that
trial failed when its heartbeat is twice --heartbeat old, and its settings queued again. A
worker starts a trial only while the finished and running trials are fewer than --n-trials (or
one is waiting), so a study ends with exactly --n-trials finished ones, however many workers.

Why not Optuna's own: MaxTrialsCallback stops a worker only once a trial of its own has ended,
so a trial another worker started meanwhile finishes past the total (measured: two workers
asked for 6 end with 7, three times in three; benchmarks/optuna_totals.py); optimize(n_jobs=N)
runs the trials in threads of one process, so one killed process loses every worker's trial at
once, and a signal reaches its main thread only. The workers here are processes, the count is
the study's.
"""
import os
import signal
import subprocess
import sys
import time
import warnings

import optuna
import sqlalchemy

from lab import signals
from lab.files import WriteFailed
from lab.options import ConfigError
from lab.children import ONE_THREAD, _processes, say, terminate_with_parent

DEPENDS = dict(lr='optimizer', pretrain_epoch='no_pretraining')
OBJECTIVES = dict(both=('minimize', 'maximize'), mse=('minimize',), probe=('maximize',))
FIXED = dict(split='validation')  # every trial's, whatever the command line says
NOT_HERE = ('resume', 'communicator', 'split', 'dataset', 'out')  # search.py's own, or none


# ---------------------------------------------------------------- a space

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
    optimizer searched (to check them with the scripts' checks before anything runs)."""
    optimizers = [{'optimizer': o} for o in space.get('optimizer', [])] or [{}]
    for name, what in space.items():
        if isinstance(what, dict):
            for value, r in what.items():
                yield from ({DEPENDS[name]: value, name: v} for v in r[:2])
        else:
            yield from (dict(o, **{name: v}) for v in (what if isinstance(what, list)
                                                       else what[:2]) for o in optimizers)


# ---------------------------------------------------------------- signals

def on_signal(signum, frame=None):
    """A worker's SIGINT and SIGTERM: passed on to its trial's run (which stops at its
    minibatch's end) and to the other workers; then lab.signals': while the study works
    (signals.training) obeyed where the study is consistent, at once while a probe is
    computed or the worker waits (signals.at_once), else once the trial's run has stopped.
    The trial it stops is failed by Optuna (signals.Interrupted is a KeyboardInterrupt) and
    its settings queued again."""
    for process in list(_processes):
        if process.poll() is None:
            process.send_signal(signum)
    signals.on_signal(signum)


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
    import numpy as np
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
            with signals.at_once():
                time.sleep(poll)
            continue
        try:
            study.optimize(objective, n_trials=1, catch=(RuntimeError,))
        except (signals.Interrupted, WriteFailed):
            retry(study, objective.number)
            raise
        trial = trial_of(study, objective.number)
        say(f'trial {trial.number}: {outcome(trial)}')
        failed_in_a_row = failed_in_a_row + 1 if trial.state.name == 'FAIL' else 0
        if failed_in_a_row == 3:
            raise RuntimeError('three trials in a row failed (see their lines above)')


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
        return 'failed' + (f' ({a["error"]})' if 'error' in a else '')
    words = [f'validation MSE {a["validation_mse"]:.5f}' if 'validation_mse' in a else '',
             f'probe {a["probe_accuracy"]:.2%}' if 'probe_accuracy' in a else '',
             f'pruned: the run diverged: {a["diverged"]}' if 'diverged' in a else
             'pruned' if trial.state.name == 'PRUNED' else '',
             'its run read back' if a.get('reused') else '',
             f'the settings of trial {trial.system_attrs["failed_trial"]} again'
             if 'failed_trial' in trial.system_attrs else '']
    return ', '.join(w for w in words if w)


def launch(command, argv, jobs):
    """--jobs N: N - 1 more workers, each `command` with `argv` and --jobs 1 (one BLAS thread
    each); this process is the first."""
    workers = [subprocess.Popen([sys.executable, '-u', command, *argv, '--jobs', '1', '--worker',
                                 str(i)], env=dict(os.environ, **ONE_THREAD),
                                preexec_fn=terminate_with_parent) for i in range(1, jobs)]
    _processes.update(workers)  # a signal is passed on to them (on_signal)
    return workers


def ended(workers):
    """Wait for the other workers; the exit status their ends call for."""
    codes = [w.wait() for w in workers]
    for i, code in enumerate(codes, 1):
        if code < 0:
            print(f'worker {i} was killed ({signal.Signals(-code).name}); its trial is failed '
                  f'by its heartbeat and tried again', file=sys.stderr)
    stopped = [c for c in codes if c in (128 + signal.SIGINT, 128 + signal.SIGTERM)]
    return stopped[0] if stopped else max(codes, default=0)


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
