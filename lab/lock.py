"""One process per run: the OS lock a run holds from the moment its name is known until its
outputs are written.

The lock is an flock(2) on OUT/<dataset>/.locks/<name>.lock, a file kept apart from the run's
outputs. Its holder writes into it who it is (host, process id, since when) and what it runs
(the script and its arguments, as run.json records them), so that another process can say who
holds it and a parent can find it by a run's arguments. The OS drops the lock when its holder
ends, however it ends: a run killed outright never blocks its own --resume. The file stays
(an unlinked lock file could be locked by two processes at once); a reader asks whether it is
held, never whether it exists.
"""
import datetime
import fcntl
import json
import os
import socket
import time

FOLDER = '.locks'


class Held(Exception):
    """The run is held by another process: exit status 75 on the command line."""

    def __init__(self, path, holder):
        who = (f'process {holder.get("pid")} on {holder.get("host")} (since '
               f'{holder.get("since")})' if holder else 'another process')
        super().__init__(f'this run is being trained by {who}: wait for it to end, or stop it '
                         f'(its lock: {path})')
        self.holder = holder


def path(out_dir, name):
    return os.path.join(out_dir, FOLDER, name + '.lock')


def acquire(out_dir, name, record):
    """Take the lock of run `name` in `out_dir` for this process, writing `record` (its script
    and arguments) and who holds it into the file; raise Held if another process has it.
    Returns the open file: the lock lasts while it is open (release() or the process's end)."""
    lock_path = path(out_dir, name)
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    f = open(os.open(lock_path, os.O_RDONLY | os.O_CREAT, 0o666))  # held open, not for writing:
    for attempt in range(5):                                 # a folder may be remounted read-only
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:  # held; or only looked at by held() this instant: try again
            if attempt == 4:
                f.close()
                raise Held(lock_path, read(lock_path)) from None
            time.sleep(.02)
    with open(lock_path, 'w') as holder:
        json.dump(dict(record, name=name, host=socket.gethostname(), pid=os.getpid(),
                       since=datetime.datetime.now().isoformat(timespec='seconds')), holder)
    return f


def release(f):
    if f is not None and not f.closed:
        f.close()  # closing the file drops the lock


def read(lock_path):
    """What the holder wrote into a lock file ({} while it is being written)."""
    try:
        with open(lock_path) as f:
            return json.loads(f.read() or '{}')
    except (OSError, ValueError):
        return {}


def held(lock_path):
    """Whether some process holds the lock at `lock_path` now (asked by taking a shared lock for
    an instant, which acquire() waits out)."""
    try:
        with open(lock_path) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except OSError:
        return False


def records(out_dir):
    """{lock path: what its last holder wrote} of every run of `out_dir` ever locked."""
    folder = os.path.join(out_dir, FOLDER)
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return {p: read(p) for p in (os.path.join(folder, n) for n in names if n.endswith('.lock'))}


def holders(out_dir):
    """{lock path: what its holder wrote} of every run of `out_dir` held now."""
    return {p: record for p, record in records(out_dir).items() if held(p)}


def name_of(out_dir, pid):
    """The name of the run in `out_dir` that process `pid` took the lock of, or None."""
    return next((r['name'] for r in records(out_dir).values() if r.get('pid') == pid), None)
