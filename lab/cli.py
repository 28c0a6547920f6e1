"""The command line: a script's options from its HYPERPARAMETERS block, a command's errors in
one line, and its exit status.

Each option is a line of the block: `name=default,  # help`, the help going on in comment lines
indented under it; a comment line at the options' own indentation heads a group of them
(`# model`). The option's type is its default's (for a default of None, its entry in
lab.options.CHECKS says), its choices are the table's; a boolean is --name / --no-name
(--no-pretraining alone where the name says it already).

Exit statuses, one meaning each (docs/architecture.md):
"""
import argparse
import difflib
import re
import signal
import sys
import tokenize
import traceback

from lab import compat, lock, options, signals
from lab.files import WriteError, WriteFailed

EXIT = dict(done=0, write=1, bad_input=2, failed=70, held=75)  # and 128 + a signal's number
__doc__ += ''.join(f'    {code:3d}  {word}\n' for word, code in EXIT.items()) + \
    '    130, 143  stopped by SIGINT, SIGTERM\n'
NOT_GIVEN = object()  # an option left off the command line


def block(path, name='HYPERPARAMETERS'):
    """[(group, option, help)] of the block `name = dict(...)` of the Python file at `path`."""
    with open(path) as f:
        tokens = list(tokenize.generate_tokens(f.readline))
    start = next(i for i, t in enumerate(tokens) if t.string == name and tokens[i + 1].string == '='
                 and tokens[i + 2].string == 'dict')
    entries, group, depth, indent, line = [], '', 0, None, None
    for i, t in enumerate(tokens[start + 3:], start + 3):
        if t.type == tokenize.OP and t.string in '([{':
            depth += 1
        elif t.type == tokenize.OP and t.string in ')]}':
            depth -= 1
            if depth == 0:
                return entries
        elif depth == 1 and t.type == tokenize.NAME and tokens[i + 1].string == '=':
            indent = t.start[1] if indent is None else indent
            entries.append([group, t.string, ''])
            line = t.start[0]
        elif depth == 1 and t.type == tokenize.COMMENT:
            text = t.string.lstrip('#').strip()
            if t.start[0] == line or entries and t.start[1] > (indent or 0):
                entries[-1][2] = f'{entries[-1][2]} {text}'.strip()  # the help, or its next line
            else:
                group = text
    raise ValueError(f'{path}: {name} = dict(...) does not close')


def parser(path, doc, defaults, prog, also=()):
    """The command line of the script at `path`: an option of each entry of its block, then of
    the blocks of the scripts `also` for the options of `defaults` that its own leaves to them
    (their values, their help), then of lab.run.OPTIONS; then --resume. `defaults`: every
    option's default."""
    from lab import run
    p = argparse.ArgumentParser(prog=prog, description=doc.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    entries = block(path)
    for other in also:
        own = {option for _, option, _ in entries}
        entries += [e for e in block(other) if e[1] in defaults and e[1] not in own]
    groups = {}
    for group, option, help in entries + block(run.__file__, 'OPTIONS'):
        default, check = defaults[option], options.CHECKS.get(option)
        kwargs = dict(default=default, help=help.replace('%', '%%'))
        if isinstance(default, bool):
            kwargs['action'] = ('store_true' if option.startswith('no_')
                                else argparse.BooleanOptionalAction)
        else:
            value = default[0] if isinstance(default, (list, tuple)) else default
            kwargs.update(type=check.type if value is None else type(value),
                          choices=check and check.choices,
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


def main(path, doc, hyperparameters, train, longer, argv=None, also=()):
    """What `python SCRIPT` does: parse the command line (defaults: the script's block and
    lab.run.OPTIONS), check every option, then train(hp). With --resume, the snapshot's own
    options are used; `longer` (the epoch option) may grow beside it; `also`: see parser. In
    an MPI job (--communicator) signals keep their default (mpiexec ends every process), and
    bad input or a held run found by one process ends the whole job (MPI_Abort), as the others
    would wait for it forever."""
    from lab import run
    prog = path.rsplit('/', 1)[-1]
    p = parser(path, doc, dict(hyperparameters, **run.OPTIONS), prog, also)
    argv = sys.argv[1:] if argv is None else argv
    prepare(p)
    args = vars(p.parse_args(argv))
    given = vars(p.parse_args(argv, namespace=argparse.Namespace(
        **{a.dest: NOT_GIVEN for a in p._actions if a.dest != 'help'})))

    def body():
        hp = args
        if hp['resume']:
            from lab import snapshots
            hp = snapshots.resumed_arguments(prog, hp['resume'], {
                k: v for k, v in given.items() if v is not NOT_GIVEN}, longer)
        train(options.check(hp))
    return guarded(p, body, mpi=bool(args['communicator'] and not args['resume']))


def prepare(p):
    """Before a command parses its arguments: its errors in one line, and the environment's
    versions checked (lab.compat)."""
    one_line_errors(p)
    for problem in compat.check():
        p.error(problem)


def guarded(p, body, cleanup=lambda: None, again='', mpi=False, handler=signals.on_signal):
    """body()'s exit status, its errors in one line: bad input (ConfigError) exit status 2, a
    run held by another process 75, a file that cannot be written 1 (its line says how to go
    on), SIGINT or SIGTERM 128 + its number (`again`: how to continue, after 'stopped by X'),
    anything else 70 with its traceback. `cleanup()` runs first on every error but bad input.
    `handler`: what SIGINT and SIGTERM do meanwhile (not in an MPI job)."""
    handlers = {} if mpi else {s: signal.signal(s, handler) for s in (signal.SIGINT,
                                                                      signal.SIGTERM)}

    def fail(code, line):
        if code != EXIT['bad_input']:
            cleanup()
        print(f'{p.prog}: {line}', file=sys.stderr, flush=True)
        if mpi and 'mpi4py.MPI' in sys.modules:
            sys.modules['mpi4py.MPI'].COMM_WORLD.Abort(code)
        return code
    try:
        return body() or EXIT['done']
    except options.ConfigError as e:
        fail(EXIT['bad_input'], f'error: {in_option_words(str(e), p)}')
        sys.exit(EXIT['bad_input'])
    except lock.Held as e:
        return fail(EXIT['held'], f'error: {e}')
    except (WriteError, WriteFailed) as e:  # not bad input: the disk filled, or rights were lost
        return fail(EXIT['write'], f'error: {e}')
    except (signals.Interrupted, KeyboardInterrupt) as e:
        signum = getattr(e, 'signum', signal.SIGINT)
        return fail(128 + signum, f'stopped by {signal.Signals(signum).name}{again}')
    except Exception:
        traceback.print_exc()
        return fail(EXIT['failed'], 'failed (the traceback above); please report it')
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


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
