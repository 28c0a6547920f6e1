"""The command line: a research script's options from its HYPERPARAMETERS block, a command's
errors in one line, and its exit status.

A block is `HYPERPARAMETERS = dict(...)`, an entry a line:

    # --- training ---      a heading: the options under it are one group of --help
    name=default,           # its help, going on in comment lines indented
                            # under it; it may end with its range: in [0, 1), >= 0

Any other comment is the reader's. From its entry alone an option gets its --option, its help,
its type (its default's; for a default of None, lab.options.CHECKS says, else a number where
the help ends with a range, else a string) and its check: its entry in lab.options.CHECKS (the
options the scripts share, choices by name) or else its type and the range its help ends with
(`in [a, b)`, `in (a, b]`, `>= a`, `> a`), run before any data are loaded (lab.run.Run). A
boolean is --name / --no-name (--no-pretraining alone where the name says it already). An entry
without a comment takes the help of the same option in the blocks of `help_from`.

Exit statuses, one meaning each (docs/architecture.md):
"""
import argparse
import ast
import contextlib
import difflib
import os
import re
import signal
import sys
import traceback

from lab import compat, lock, options, signals
from lab.files import WriteError, WriteFailed
from lab.trainer import Diverged

EXIT = dict(done=0, write=1, bad_input=2, diverged=3, failed=70, held=75)  # and 128 + a signal's
KILLED = 128 + signal.SIGKILL  # a run killed outright (what Linux does when memory runs out)
__doc__ += ''.join(f'    {code:3d}  {word}\n' for word, code in EXIT.items()) + \
    '    130, 143  stopped by SIGINT, SIGTERM\n    137  a run it started was killed (SIGKILL)\n'
HEADING = re.compile(r'#\s*---\s*(.+?)\s*---\s*$')
RANGE = re.compile(r'(?:in ([\[(])(-?[\d.e-]+), (-?[\d.e-]+|inf)([\])])|(>=?) (-?[\d.e-]+))\W*$')

# Where a run's data come from and where it runs: the options every research script shares,
# described here once (after a script's own block, on its command line and in --help).
OPTIONS = dict(
    # --- data and output ---
    dataset='auto',         # mnist: $MNIST_DIR or OpenML, never falls back; digits: the 8x8
                            # digits bundled with scikit-learn; auto: mnist if there, else digits
    split='random',         # random: the original's seeded 75/25 split; official: MNIST's own
                            # 60,000 / 10,000; validation: MNIST's first 50,000 training images,
                            # tested on its last 10,000 (settings chosen without the test set;
                            # digits: the random split's training part, its last quarter held out)
    split_seed=1,           # seed of the random split
    out='results',          # output folder; a run writes into OUT/<dataset>/
    # --- device and processes ---
    device='@numpy',        # a Chainer device: @numpy (the CPU), @cupy:0 (the first GPU)
    communicator=None,      # train one model across the processes of `mpiexec -n N` with this
                            # ChainerMN communicator (naive on CPUs; needs make mpi-setup)
)


def block(path, name='HYPERPARAMETERS'):
    """{option: (group, help, default)} of the block `name = dict(...)` of the file at `path`,
    in its order."""
    with open(path) as f:
        source = f.read()
    call = next(node.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assign)
                and getattr(node.targets[0], 'id', None) == name)
    values = {k.arg: eval(compile(ast.Expression(k.value), path, 'eval'), {'__builtins__': {}})
              for k in call.keywords}
    lines = source.splitlines()[call.lineno:call.end_lineno - 1]
    entries, group, indent, last = {}, '', None, None
    for line in lines:
        code, _, comment = line.partition('#')
        option = re.match(r'\s*(\w+)=', code)
        if option and option[1] in values:
            indent = len(code) - len(code.lstrip()) if indent is None else indent
            last = option[1]
            entries[last] = [group, comment.strip(), values[last]]
        elif comment and not code.strip():
            heading = HEADING.match(line.strip())
            if heading:
                group, last = heading[1], None
            elif last and len(code) > indent:  # the help, going on
                entries[last][1] = f'{entries[last][1]} {comment.strip()}'.strip()
    return {option: tuple(entry) for option, entry in entries.items()}


def entries(path, help_from=()):
    """block(path), then OPTIONS' entries; an entry without help takes the first of the blocks
    of the files `help_from` that has one."""
    own = {**block(path), **block(__file__, 'OPTIONS')}
    for other in map(block, help_from):
        own = {k: (g, h or other.get(k, (0, ''))[1], v) for k, (g, h, v) in own.items()}
    return own


def defaults(path):
    """{option: its default}: the block of the script at `path`, then OPTIONS."""
    return {option: default for option, (_, _, default) in entries(path).items()}


def checks(path):
    """{option: its check (name, value)} of the script at `path`: see the module's docstring."""
    return {option: check_of(option, default, help)
            for option, (_, help, default) in entries(path).items()}


def check_of(option, default, help):
    if option in options.CHECKS:
        return options.CHECKS[option]
    found = RANGE.search(help)
    kind = type(default) if default is not None else float if found else str
    if found and found[5]:  # >= a, > a
        low, high, closed = float(found[6]), float('inf'), (found[5] == '>=', False)
    elif found:
        low, high, closed = float(found[2]), float(found[3]), (found[1] == '[', found[4] == ']')
    check = options.entry(lambda name, value: options.of_type(name, value, kind, *(
        (low, high, closed, found[0].strip(' .;,')) if found else ())), kind)
    return check if default is not None else options.optional(check)


def parser(path, defaults_, help_from=()):
    """The command line of the script at `path`: an option of each entry of its block and of
    OPTIONS (`defaults_`: every option's default, its value), then --resume."""
    with open(path) as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ''
    p = argparse.ArgumentParser(prog=os.path.basename(path), description=doc.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    groups = {}
    for option, (group, help, _) in entries(path, help_from).items():
        default, check = defaults_[option], check_of(option, defaults_[option], help)
        kwargs = dict(default=default, help=help.replace('%', '%%'))
        if isinstance(default, bool):
            kwargs['action'] = ('store_true' if option.startswith('no_')
                                else argparse.BooleanOptionalAction)
        else:
            value = default[0] if isinstance(default, (list, tuple)) else default
            kwargs.update(type=check.type if value is None else type(value),
                          choices=check.choices,
                          **(dict(nargs='+', metavar='N') if isinstance(default, (list, tuple))
                             else {}))
        if group not in groups:
            groups[group] = p.add_argument_group(group)
        groups[group].add_argument('--' + option.replace('_', '-'), **kwargs)
    p.add_argument_group('resuming').add_argument(
        '--resume', metavar='SNAPSHOT',
        help='continue an interrupted run from its snapshot, with the settings recorded in it '
             '(options given beside it must agree, but for a larger epoch count)')
    return p


_command = dict(parser=None, mpi=False)  # the command being run: its parser, whether under MPI


def parse(hyperparameters, argv=None, longer='epoch', help_from=(), path=None):
    """The settings of this run of a research script: its block `hyperparameters`, then
    OPTIONS, as the command line changes them (argv, default sys.argv[1:]). With --resume, the
    snapshot's own settings; `longer` (the epoch option) may grow beside it. `help_from`:
    research scripts (modules) whose blocks give the help an entry leaves out; `path`: the
    script's file (default: the program's, __main__)."""
    from lab import snapshots
    path = path or sys.modules['__main__'].__file__
    p = parser(path, dict(hyperparameters, **OPTIONS), [m.__file__ for m in help_from])
    prepare(p)
    _command['parser'] = p
    argv = sys.argv[1:] if argv is None else argv
    hp = vars(p.parse_args(argv))
    if hp['resume']:
        hp = snapshots.resumed_arguments(p.prog, hp['resume'], given(p, argv), longer, hp)
    elif hp['communicator']:  # mpiexec ends every process: signals keep their default
        _command['mpi'] = True
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
    return hp


def given(p, argv):
    """{option: value} of the options on the command line argv alone (parser p's)."""
    left_off = object()
    values = vars(p.parse_args(argv, namespace=argparse.Namespace(
        **{a.dest: left_off for a in p._actions if a.dest != 'help'})))
    return {k: v for k, v in values.items() if v is not left_off}


def prepare(p):
    """Before a command parses its arguments: its errors in one line, and the environment's
    versions checked (lab.compat)."""
    one_line_errors(p)
    for problem in compat.check():
        p.error(problem)


@contextlib.contextmanager
def command(p=None, cleanup=lambda: None, again='', handler=signals.on_signal):
    """A command's body, within: its errors in one line and its exit status (sys.exit): bad
    input (ConfigError) 2, a run held by another process 75, a file that cannot be written 1
    (its line says how to go on), SIGINT or SIGTERM 128 + its number (`again`: how to continue,
    after 'stopped by X'), anything else 70 with its traceback. `p`: the command's parser
    (default: the one parse() made). `cleanup()` runs first on every error but bad input.
    `handler`: what SIGINT and SIGTERM do meanwhile. In an MPI job bad input or a held run
    found by one process ends the whole job (MPI_Abort): the others would wait for it forever."""
    handlers = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    code = EXIT['done']

    def fail(status, line):
        if status != EXIT['bad_input']:
            cleanup()
        print(f'{(p or _command["parser"]).prog}: {line}', file=sys.stderr, flush=True)
        if _command['mpi'] and 'mpi4py.MPI' in sys.modules:
            sys.modules['mpi4py.MPI'].COMM_WORLD.Abort(status)
        return status
    try:
        yield
    except options.ConfigError as e:
        code = fail(EXIT['bad_input'], f'error: {in_option_words(str(e), p or _command["parser"])}')
    except lock.Held as e:
        code = fail(EXIT['held'], f'error: {e}')
    except Diverged as e:
        code = fail(EXIT['diverged'], f'diverged: {e}')
    except signals.Killed as e:
        code = fail(KILLED, f'error: {e}')
    except MemoryError as e:  # the machine's limit, not a bug
        code = fail(EXIT['bad_input'], f'error: out of memory ({e or "MemoryError"}): this '
                                      f'machine cannot hold these settings; smaller ones can')
    except (WriteError, WriteFailed) as e:  # not bad input: the disk filled, or rights were lost
        code = fail(EXIT['write'], f'error: {e}')
    except KeyboardInterrupt as e:  # signals.Interrupted among them
        signum = getattr(e, 'signum', signal.SIGINT)
        code = fail(128 + signum, f'stopped by {signal.Signals(signum).name}{again}')
    except Exception:
        traceback.print_exc()
        code = fail(EXIT['failed'], 'failed (the traceback above); please report it')
    finally:
        for signum, previous in handlers.items():
            if not _command['mpi']:
                signal.signal(signum, previous)
    sys.exit(code)


def guarded(p, body, **kwargs):
    """body()'s exit status, as command(p, **kwargs) gives it (reproduce.py's, search.py's);
    bad input exits."""
    status = []
    try:
        with command(p, **kwargs):
            status.append(body())
    except SystemExit as e:
        if e.code == EXIT['bad_input']:
            raise
        return status[0] if status and status[0] else e.code


def one_line_errors(p):
    """Make argparse parser `p` report every error (its own, and the ConfigErrors passed to
    p.error) as one line in the command line's words, then exit with status 2."""
    p.error = lambda message: p.exit(EXIT['bad_input'],
                                     f'{p.prog}: error: {in_option_words(message, p)}\n')


def in_option_words(message, p):
    """A message of the Python API in the words of `p`'s command line: a parameter's name
    becomes its option (`dropout_ratio` -> `--dropout-ratio`, `split='x'` -> `--split 'x'`),
    and an unknown option gets the closest known one and a pointer to --help."""
    flags = {a.dest: max(a.option_strings, key=len) for a in p._actions
             if any(o.startswith('--') for o in a.option_strings)}
    unknown = re.match(r'unrecognized arguments: (.*)', message)
    if unknown:
        def closest(word):
            close = word.startswith('--') and difflib.get_close_matches(
                word.split('=')[0], list(flags.values()), 1, .6)
            return f'{word} (did you mean {close[0]}?)' if close else word
        words = ' '.join(map(closest, unknown[1].split()))
        return f'unrecognized arguments: {words}; see python {p.prog} --help'
    named = [d for d in flags if '_' in d]  # elsewhere in a sentence, only unmistakable names
    alternatives = [r'^(%s)(?:(=)|(?=[ :[]))' % '|'.join(map(re.escape, flags))]
    if named:
        alternatives.append(r'(?<![\w-])(%s)(?:(=)|(?!\w))' % '|'.join(map(re.escape, named)))
    pattern = '|'.join(alternatives)
    flag = lambda m: flags[m[1] or m[3]] + (' ' if '=' in m[0] else '')  # noqa: E731
    return re.sub(pattern, flag, message) if flags else message
