"""Runs as commands, and the measures of a run: what reproduce.py and search.py share.

commands   command_line, shown_command: a script's command for a set of options
runs       script_run: run that command in a child process (one BLAS thread), or read back a
           run that finished before with the same arguments (find_run), or resume its snapshot;
           load_run: its trained model
measures   probe: a linear probe's accuracy on codes; codes: a model's innermost code
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time


from utils import ConfigError

ROOT = os.path.dirname(os.path.abspath(__file__))
ONE_THREAD = {'OPENBLAS_NUM_THREADS': '1'}  # the environment of every run, and of its command
AE, DEEP = 'autoencoder.py', 'deep_autoencoder.py'


def script_module(script):
    import autoencoder
    import deep_autoencoder
    return {AE: autoencoder, DEEP: deep_autoencoder}[script]


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
    from autoencoder import inference
    return inference(lambda batch: model(batch, hidden=True), x)


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


def expected_arguments(script, options, dataset, runs):
    """The arguments run() records in run.json for this row (JSON types)."""
    module = script_module(script)
    arguments = dict(module.HYPERPARAMETERS, **options, dataset=dataset, out=runs)
    if script == DEEP and arguments['pretrain_corruption_ratio'] == arguments['corruption_ratio']:
        arguments['pretrain_corruption_ratio'] = None  # as run() records it
    return json.loads(json.dumps(arguments))


def with_defaults(script, arguments):
    """A run's recorded arguments, completed with run()'s defaults for those it lacks (a run
    made before that option existed ran with its default), in JSON types."""
    import inspect
    defaults = {name: p.default for name, p in
                inspect.signature(script_module(script).run).parameters.items()
                if p.default is not inspect.Parameter.empty and name != 'resume'}
    return json.loads(json.dumps(dict(defaults, **arguments)))


def find_run(folder, arguments, suffix, script):
    """The name of a run in `folder` whose run.json (suffix 'run.json') or snapshot
    ('snapshot.npz') was made with these arguments (see with_defaults); None if there is
    none. Its --out is not compared: the run is in `folder`, however the path was written
    (the README's commands write to results/, reproduce.py names the same folder in full)."""
    arguments = dict(arguments, out=None)
    import runner
    if not os.path.isdir(folder):
        return None
    for file in sorted(os.listdir(folder)):
        if not file.endswith(suffix):
            continue
        path = os.path.join(folder, file)
        try:
            if suffix == 'run.json':
                with open(path) as f:
                    made_with = json.load(f)['arguments']
            else:
                made_with = runner.read_snapshot_config(path)['arguments']
        except (OSError, ValueError, KeyError, ConfigError):
            continue
        if dict(with_defaults(script, made_with), out=None) == arguments:
            return file[:-len(suffix)]
    return None


def script_run(script, options, dataset, runs, retrain, tag=None, on_line=None,
               caller='reproduce.py'):
    """Run the row's command (or read it back, if it finished before with the same arguments):
    `python script --dataset D <options> --out RUNS`, one BLAS thread, resumed from its
    snapshot if there is one. tag: print its lines with this prefix (else none).
    Returns run.json's record, the run's name, its folder, its command and whether it was
    read back. on_line, caller: see run_process."""
    args = command_line(script, options, dataset)
    arguments = expected_arguments(script, options, dataset, runs)
    folder = os.path.join(runs, dataset)
    name = None if retrain else find_run(folder, arguments, 'run.json', script)
    cached = name is not None and os.path.exists(os.path.join(folder, name + 'model.npz'))
    if not cached:
        snapshot = find_run(folder, arguments, 'snapshot.npz', script)
        resume = ['--resume', os.path.join(folder, snapshot + 'snapshot.npz')] if snapshot else []
        name = run_process([sys.executable, '-u', os.path.join(ROOT, args[0]), *args[1:],
                            '--out', runs, *resume], tag, on_line, caller)
    elif tag:
        say(f'{tag}: done before, read back from {os.path.join(folder, name)}run.json')
    with open(os.path.join(folder, name + 'run.json')) as f:
        record = json.load(f)
    record['arguments'] = with_defaults(script, record['arguments'])
    return dict(record=record, name=name, folder=folder, command=shown_command(args),
                cached=cached)


class WriteFailed(Exception):
    """A run stopped because it could not write a file (disk full, permission): its line."""


_processes = set()  # the runs' processes now running, to pass a signal on to


def run_process(argv, tag=None, on_line=None, caller='reproduce.py'):
    """One run in a child process; its name, read from the line that says what it wrote.

    on_line(line), if given, sees each line the run prints; when it returns True the run is
    asked to stop (SIGTERM: it saves its snapshot at the end of the minibatch) and
    StoppedEarly is raised once it has. The child is sent SIGTERM too if this process dies
    (Linux), so that a killed caller leaves no run training on its own."""
    process = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, **ONE_THREAD),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=terminate_with_parent)
    _processes.add(process)
    lines, name, stopped = [], None, False
    try:
        for line in process.stdout:
            line = line.rstrip('\n')
            lines = (lines + [line])[-20:]
            match = re.match(r'wrote \d+ files to .*/: (.*)\*$', line)
            name = match.group(1) if match else name
            if tag:
                say(f'{tag}: {line}')
            if on_line and not stopped and on_line(line):
                process.send_signal(signal.SIGTERM)
                stopped = True
        process.wait()
    finally:
        _processes.discard(process)
    if stopped and process.returncode in (0, 128 + signal.SIGTERM):
        raise StoppedEarly(name)
    if process.returncode in (128 + signal.SIGINT, 128 + signal.SIGTERM):
        import runner
        raise runner.Interrupted(process.returncode - 128)
    if process.returncode == 1 and lines and ': error: cannot write ' in lines[-1]:
        raise WriteFailed(f'{lines[-1]} ({caller} resumes it from there: run the same '
                          f'{caller} command again)')
    if process.returncode != 0 or name is None:
        raise RuntimeError(f'{shlex.join(argv[1:])} failed (exit status {process.returncode}):\n'
                           + '\n'.join(lines))
    return name


class StoppedEarly(Exception):
    """A run stopped at the caller's request (on_line), its snapshot saved."""


def terminate_with_parent():
    """In a child, before it runs: SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG);
    elsewhere nothing."""
    if sys.platform.startswith('linux'):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def stop_processes(timeout=60):
    """Pass a stop on to the runs still going (each saves its snapshot and ends), and wait."""
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


def say(text):
    """A line on stdout, written whole (the runs' threads print side by side)."""
    sys.stdout.write(text + '\n')
    sys.stdout.flush()


def load_run(run, script, n_inputs):
    """The trained model of a run, from its model.npz."""
    import chainer
    model = script_module(script).build_model(n_inputs, run['record']['arguments'])
    chainer.serializers.load_npz(os.path.join(run['folder'], run['name'] + 'model.npz'), model)
    return model


def copy_pictures(run, suffixes, out):
    """The run's pictures of these suffixes ('enc.png', ...), copied into `out`; their names."""
    import shutil

    import utils
    names = [run['name'] + suffix for suffix in suffixes]
    for name in names:
        with utils.atomic_path(os.path.join(out, name)) as tmp:
            shutil.copyfile(os.path.join(run['folder'], name), tmp)
    return names


def seconds_of(record):
    """The training's own time: every epoch's seconds, pretraining included."""
    return (sum(record['seconds_per_epoch'])
            + sum(map(sum, record.get('pretrain_seconds_per_epoch', []))))


def computed_on(record):
    """The machines and stacks a run's training ran on, in words, in order ('then' where it
    was resumed on another): CPU, NumPy, BLAS kernel and threads. Runs from before these were
    recorded have only the stack their outputs were written with."""
    def words(stack):
        if stack is None:
            return 'not recorded'
        blas = stack.get('blas') or {}
        threads = blas.get('threads')
        return (f'{stack.get("cpu") or "CPU not recorded"}, NumPy {stack.get("numpy")}, '
                f'{blas.get("library")} ({blas.get("core")} kernel'
                + (f', {threads} thread{"s" * (threads != 1)})' if threads else ')'))
    return ', then '.join(map(words, record.get('trained_on') or [record.get('versions')]))


def spread(values):
    """The mean and the sample standard deviation (nan for a single value) of a row's seeds."""
    import numpy as np
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float('nan')


def apart(a, b):
    """Whether two (mean, sd) differ beyond their spread: mean +- 2 sd do not overlap. The one
    rule of every generated finding that calls one setting lower than another."""
    (ma, sa), (mb, sb) = a, b
    return ma + 2 * sa < mb - 2 * sb or mb + 2 * sb < ma - 2 * sa
