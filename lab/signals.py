"""SIGINT (Ctrl-C) and SIGTERM: at once outside training, at a minibatch's end inside it.

Outside training a signal raises Interrupted wherever the program is (loading data,
evaluating, writing outputs, all of which write atomically); inside `training()` it is only
noted, and the trainer stops at the end of the minibatch (stop_requested), so that the
snapshot saved then holds a whole step. A command exits with 128 + the signal's number.
"""
import contextlib
import signal


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. A KeyboardInterrupt, so that no `except Exception` on the way
    (a download's retry, say) can swallow it, and an Optuna trial it stops is failed."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Killed(RuntimeError):
    """A run this process started was killed outright (SIGKILL: what Linux does when memory
    runs out), its words saying how to resume it."""


_state = dict(training=False, stop=None)  # inside training: the signal waiting for a boundary


def on_signal(signum, frame=None):
    """The handler of SIGINT and SIGTERM (see the module's docstring)."""
    if _state['training']:
        _state['stop'] = signum
    else:
        raise Interrupted(signum)


@contextlib.contextmanager
def training():
    """Within: a signal waits for stop_requested() (between minibatches) instead of stopping
    the program where it is, and one that arrives while a snapshot is written waits too."""
    _state.update(training=True, stop=None)
    try:
        yield
    finally:
        _state.update(training=False, stop=None)


@contextlib.contextmanager
def at_once():
    """Within training(): a signal stops the program where it is again (while it waits, or
    computes what writes nothing); one that arrived before stops it here."""
    stop_requested()
    _state['training'] = False
    try:
        yield
    finally:
        _state['training'] = True


def request_stop(signum, frame=None):
    """What a signal does inside training: stop at the next minibatch boundary."""
    _state['stop'] = signum


def stop_requested():
    """Raise Interrupted if SIGINT or SIGTERM arrived (a trainer calls it between minibatches)."""
    if _state['stop'] is not None:
        raise Interrupted(_state['stop'])
