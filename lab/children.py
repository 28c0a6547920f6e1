"""Runs as child processes, and the measures of a finished run: what reproduce.py's experiments,
search.py and the benchmarks share.

commands   command_line, shown_command: a research script's command for a set of options
runs       script_run: the command run in a child process (one BLAS thread), or a run that
           finished before with the same arguments read back, or an interrupted one resumed,
           or one that another process holds waited for; load_run: its trained model
measures   probe: a linear probe's accuracy on codes; codes: a model's innermost code

A parent learns what its child did from what the child writes (its lock, log.json, run.json,
snapshot.npz, all found by the arguments recorded in them) and from its exit status
(lab.cli.EXIT), never from its printed lines; those are shown to the user as they come, and the
child's own error line is passed on as it is.
"""
import concurrent.futures
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

import numpy as np

from lab import lock, snapshots
from lab.cli import EXIT
from lab.files import WriteFailed, read_json
from lab.options import ConfigError
from lab.run import recorded
from lab.signals import Interrupted, Killed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE_THREAD = {'OPENBLAS_NUM_THREADS': '1'}  # the environment of every run, and of its command
POLL = .1  # seconds between looks at a running child's files (a small JSON file)


class Script:
    """What the machinery needs of a research script, passed in by whoever imports it: its file
    name and path, its docstring, its HYPERPARAMETERS (every option's default) and
    model(hp, n_inputs), the model a run's recorded arguments build (to load its model.npz)."""

    def __init__(self, module):
        self.name = os.path.basename(module.__file__)
        self.path, self.doc = module.__file__, module.__doc__
        self.model = module.model
        from lab.cli import OPTIONS
        self.defaults = dict(module.HYPERPARAMETERS, **OPTIONS)  # every option's default


# ---------------------------------------------------------------- measures

def probe(train_codes, test_codes, labels):
    """Accuracy on the test set of a logistic regression fitted on the training codes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    classifier.fit(train_codes, labels[0])
    return float(classifier.score(test_codes, labels[1]))


def codes(model, x):
    """The innermost code, in eval mode, as a NumPy array."""
    from lab.run import inference
    return inference(lambda batch: model(batch, hidden=True), x)


def mse(a, b):
    return float(np.mean(np.square(a - b, dtype=np.float64)))


def pca_baseline(k, data, labels, shown=None):
    """Test MSE of PCA with k components (fitted on the training set; at most one per input),
    the probe on its codes and the test set's codes; with `shown` (test-set indices, the Hinton
    experiment), also the reconstructions of those images."""
    from sklearn.decomposition import PCA
    pca = PCA(min(k, data[0].shape[1]), random_state=0).fit(data[0])
    test_codes = pca.transform(data[1])
    result = dict(kind='pca', k=k, components_used=pca.n_components_,
                  test_mse=mse(pca.inverse_transform(test_codes), data[1]),
                  probe=probe(pca.transform(data[0]), test_codes, labels),
                  components=pca.components_, variances=pca.explained_variance_,
                  test_codes=test_codes)
    if shown is not None:
        result.update(reconstructions=pca.inverse_transform(test_codes[shown]))
    return result


def load_run(run, script, n_inputs):
    """The trained model of a run, from its model.npz."""
    import chainer
    model = script.model(run['record']['arguments'], n_inputs)
    chainer.serializers.load_npz(os.path.join(run['folder'], run['name'] + 'model.npz'), model)
    return model


def seconds_of(record):
    """The training's own time: every epoch's seconds, pretraining included."""
    return (sum(record['seconds_per_epoch'])
            + sum(map(sum, record.get('pretrain_seconds_per_epoch', []))))


def copy_pictures(run, suffixes, out):
    """The run's pictures of these suffixes ('enc.png', ...), copied into `out`; their names."""
    import shutil

    from lab.files import atomic_path
    names = [run['name'] + suffix for suffix in suffixes]
    for name in names:
        with atomic_path(os.path.join(out, name)) as tmp:
            shutil.copyfile(os.path.join(run['folder'], name), tmp)
    return names


# ---------------------------------------------------------------- the runs, as commands

def command_line(script, options, dataset):
    """The arguments of `python script ...` for a row: the data set and the row's options."""
    args = [script, '--dataset', dataset]
    for key, value in options.items():
        flag = '--' + key.replace('_', '-')
        if isinstance(value, bool):
            args += [flag] if value else []  # --tied, --no-pretraining; off by default
        elif isinstance(value, (list, tuple)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, format(value, 'g') if isinstance(value, float) else str(value)]
    return args


def shown_command(args):
    """A row's command as a user types it (with MNIST, MNIST_DIR set beforehand)."""
    return ' '.join([*(f'{k}={v}' for k, v in ONE_THREAD.items()), 'python',
                     *map(shlex.quote, args)])


def with_defaults(script, arguments):
    """A run's arguments completed with the script's defaults for those it lacks (a run made
    before that option existed ran with its default), in JSON types, --out left out: the run
    is in the folder searched, however its path was written."""
    return json.loads(json.dumps(dict(script.defaults, **arguments) | {'out': None}))


def find_run(folder, arguments, suffix, script):
    """The name of a run in `folder` whose run.json (suffix 'run.json'), snapshot
    ('snapshot.npz') or lock held now ('.lock') was made with these arguments; None if there
    is none."""
    arguments = with_defaults(script, arguments)
    if suffix == '.lock':
        return next((holder['name'] for holder in lock.holders(folder).values()
                     if with_defaults(script, holder.get('arguments', {})) == arguments), None)
    read = read_json if suffix == 'run.json' else snapshots.read_config
    for file in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not file.endswith(suffix):
            continue
        try:
            made_with = read(os.path.join(folder, file))['arguments']
        except (OSError, ValueError, KeyError, ConfigError):
            continue
        if with_defaults(script, made_with) == arguments:
            return file[:-len(suffix)]
    return None


def measured_run(ctx, script, options, tag=None, probe_codes=True):
    """A row's run for an experiment's context `ctx` (its dataset, runs folder, --retrain and
    device; ctx.split: the data its runs train on), trained, read back, resumed or waited for
    (script_run), and what every experiment measures of it: its command, name, seed, seconds,
    train and test MSE after the last epoch and the test MSE after each, and with `probe_codes`
    its trained model and the probe of its codes. Returns (run, model or None, measures). A run
    that diverged has no model: its errors and probe are NaN (a page says 'diverged'), and
    `diverged` says how."""
    run = script_run(script, dict(options, **ctx.device), ctx.dataset, ctx.runs, ctx.retrain,
                     tag=tag)
    record, model, nan = run['record'], None, float('nan')
    diverged = (record.get('diverged') or {}).get('words')
    measures = dict(command=run['command'], name=run['name'], cached=run['cached'],
                    seed=record['arguments']['seed'], seconds=seconds_of(record),
                    train_mse=nan if diverged else record['loss_values'][-1],
                    test_mse=nan if diverged else record['test_loss_values'][-1],
                    test_curve=record['test_loss_values'], diverged=diverged,
                    **(dict(probe=nan) if diverged else {}))
    if probe_codes and not diverged:
        (x_train, x_test), labels = ctx.split
        model = load_run(run, script, x_train.shape[1])
        measures['probe'] = probe(codes(model, x_train), codes(model, x_test), labels)
    return run, model, measures


_processes = set()  # the runs' processes now running, to pass a signal on to
_stopping = threading.Event()  # set by stop_processes, cleared by run_tasks


def stopping():
    """Raise Interrupted once this process is stopping its runs (stop_processes): what a task
    that waits for another process's run checks between looks."""
    if _stopping.is_set():
        raise Interrupted(signal.SIGTERM)


def script_run(script, options, dataset, runs, retrain, tag=None, on_epoch=None,
               caller='reproduce.py', stop=stopping):
    """Run the row's command (or read it back, if it finished before with the same arguments):
    `python script --dataset D <options> --out RUNS`, one BLAS thread, resumed from its
    snapshot if there is one, after waiting for any other process that holds it. tag: print
    its lines with this prefix (else none). on_epoch(entry), if given, sees each entry of the
    run's log.json as it is written; when it returns True the run is asked to stop (SIGTERM:
    it saves its snapshot) and StoppedEarly is raised once it has. stop() is called while it
    waits for another process (to raise if the caller was asked to stop; by default, once
    this process stops its runs).
    Returns run.json's record, the run's name, its folder, its command and whether it was
    read back."""
    args = command_line(script.name, options, dataset)
    arguments = dict(script.defaults, **options, dataset=dataset, out=runs)
    folder = os.path.join(runs, dataset)
    while True:
        wait_while_held(folder, arguments, script, tag, stop)
        name = None if retrain else find_run(folder, arguments, 'run.json', script)
        cached = name is not None and (os.path.exists(os.path.join(folder, name + 'model.npz'))
                                       or bool(recorded(folder, name, 'diverged')))
        if cached:
            if tag:
                say(f'{tag}: done before, read back from {os.path.join(folder, name)}run.json')
            break
        snapshot = find_run(folder, arguments, 'snapshot.npz', script)
        resume = ['--resume', os.path.join(folder, snapshot + 'snapshot.npz')] if snapshot else []
        argv = [sys.executable, '-u', script.path, *args[1:], '--out', runs, *resume]
        try:
            status = run_process(argv, tag, on_epoch, folder, caller)
        except Killed as e:  # its snapshot, if it wrote one, is where it goes on from
            snapshot = find_run(folder, arguments, 'snapshot.npz', script)
            raise Killed(f'{e}; ' + (
                'it wrote no snapshot: run it again' if snapshot is None else 'resume it with: '
                + shown_command([args[0], '--resume', os.path.join(folder, snapshot + 'snapshot.npz')]))
            ) from None
        if status != EXIT['held']:
            name = find_run(folder, arguments, 'run.json', script)
            break
    record = read_json(os.path.join(folder, name + 'run.json'))
    record['arguments'] = with_defaults(script, record['arguments'])
    return dict(record=record, name=name, folder=folder, command=shown_command(args),
                cached=cached)


def wait_while_held(folder, arguments, script, tag, stop):
    """Wait while another process holds the run of these arguments, saying once who it is;
    stop() between looks."""
    said = False
    while (name := find_run(folder, arguments, '.lock', script)) is not None:
        if not said:
            holder = lock.read(lock.path(folder, name))
            say(f'{tag or "run"}: waiting: {name} is being trained by process {holder.get("pid")} '
                f'on {holder.get("host")}')
            said = True
        stop()
        time.sleep(POLL * 4)


class StoppedEarly(Exception):
    """A run stopped at the caller's request (on_epoch), its snapshot saved."""


def run_process(argv, tag, on_epoch, folder, caller):
    """One run in a child process, its lines shown as they come (with `tag`); its exit status
    (0, or 75: held by another process) once it has ended, or the exception its status calls
    for: WriteFailed (1: the child's own line, passed on), Interrupted (130, 143), StoppedEarly,
    RuntimeError (any other). The child is sent SIGTERM too if this process dies (Linux), so
    that a killed caller leaves no run training on its own."""
    process = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, **ONE_THREAD),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=terminate_with_parent)
    _processes.add(process)
    errors, seen, stopped, name = [], 0, False, None
    pumps = [threading.Thread(target=pump, args=(stream, tag, kept), daemon=True)
             for stream, kept in ((process.stdout, []), (process.stderr, errors))]
    for thread in pumps:
        thread.start()
    try:
        while True:
            ended = process.poll() is not None
            if on_epoch and not stopped:  # the log's new entries, and one last look at the end
                name = name or lock.name_of(folder, process.pid)
                for entry in read_log(folder, name)[seen:]:
                    seen += 1
                    if on_epoch(entry):
                        process.send_signal(signal.SIGTERM)
                        stopped = True
                        break
            if ended:
                break
            time.sleep(POLL)
        for thread in pumps:
            thread.join()
    finally:
        _processes.discard(process)
    code = process.returncode
    if stopped and code in (EXIT['done'], 128 + signal.SIGTERM):
        raise StoppedEarly()
    if code in (EXIT['done'], EXIT['held'], EXIT['diverged']):  # its run.json says how it ended
        return code
    if code in (-signal.SIGKILL, 128 + signal.SIGKILL):
        raise Killed(f'{shlex.join(argv[1:])} was killed (SIGKILL: possibly out of memory, which '
                     f'is how Linux stops the largest process when memory runs out)')
    if code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
        raise Interrupted(code - 128)
    if code == EXIT['write'] and errors:
        raise WriteFailed(f'{errors[-1]} ({caller} resumes it from there: run the same '
                          f'{caller} command again)')
    raise RuntimeError(f'{shlex.join(argv[1:])} failed (exit status {code}):\n'
                       + '\n'.join(errors[-20:]))


def read_log(folder, name):
    """The entries of run `name`'s log.json so far ([] before it has one)."""
    try:
        return read_json(os.path.join(folder, name + 'log.json'))
    except (TypeError, OSError, ValueError):
        return []


def pump(stream, tag, kept):
    """Show a child's lines as they come (with `tag`, else not at all), keeping them in `kept`."""
    for line in stream:
        line = line.rstrip('\n')
        kept.append(line)
        del kept[:-20]
        if tag:
            say(f'{tag}: {line}')


def terminate_with_parent():
    """In a child, before it runs: SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG);
    elsewhere nothing."""
    if sys.platform.startswith('linux'):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def stop_processes(timeout=60):
    """Pass a stop on to the runs still going (each saves its snapshot and ends) and to the
    tasks waiting for another process's run, and wait."""
    _stopping.set()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: the runs are stopping
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for process in list(_processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in list(_processes):
        try:
            process.wait(max(0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def seeds(script, n):
    """The script's own seed and the n - 1 after it."""
    first = script.defaults['seed']
    return list(range(first, first + n))


def seeded(script, options, n):
    """The options of a row's n runs: with the script's own seed (unnamed: the row's command)
    and with each of the n - 1 seeds after it."""
    return [options, *(dict(options, seed=seed) for seed in seeds(script, n)[1:])]


def run_tasks(tasks, jobs):
    """(label, function, keyword arguments) in `jobs` threads (each run is a process of its
    own); the results in their order. A line as each starts and ends."""
    from lab.report import plural
    results, n, left, lock_ = [None] * len(tasks), len(tasks), [len(tasks)], threading.Lock()
    _stopping.clear()

    def task(i):
        label, fn, kwargs = tasks[i]
        say(f'start {label} (run {i + 1} of {n})')
        t0 = time.perf_counter()
        results[i] = fn(**kwargs)
        with lock_:  # said here, before this thread starts another task
            left[0] -= 1
            say(f'done  {label}: {time.perf_counter() - t0:.0f} s; {plural(left[0], "run")} left')
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = []
        try:  # a signal may come while the tasks are handed out, their first already waiting
            for i in range(n):
                futures.append(pool.submit(task, i))
            for future in concurrent.futures.as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            stop_processes()
            raise
    return results


def say(text):
    """A line on stdout, written whole (the runs' threads print side by side)."""
    sys.stdout.write(text + '\n')
    sys.stdout.flush()
