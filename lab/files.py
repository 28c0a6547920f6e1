"""Writing files: every output atomically, and a write that fails as one error naming its file.

atomic_path   a temporary name beside the real one, renamed to it once the write is whole
WriteError    a file that could not be written (the disk full, a folder no longer writable)
write_json, write_text, write_between_markers    the same for JSON, text and a Markdown block
read_json     a JSON file's value
check_writable_dir    a folder made if needed and proved writable, before any work
"""
import contextlib
import errno
import json
import os
import re
import tempfile

from lab.options import ConfigError

# What a write that fails for want of room or rights looks like (EIO: a device that went away).
WRITE_FAILURES = {errno.ENOSPC: 'the disk is full', errno.EDQUOT: 'the disk quota is used up',
                  errno.EFBIG: 'the file is too large for its file system',
                  errno.EACCES: 'permission denied', errno.EPERM: 'permission denied',
                  errno.EROFS: 'the file system is read-only', errno.EIO: 'input/output error'}


class WriteError(OSError):
    """A file could not be written: the disk is full, or its folder is (no longer) writable.
    `hint`, where the caller knows one: how to go on (a snapshot to resume from)."""

    def __init__(self, path, error, hint=None):
        super().__init__(error.errno, error.strerror, path)
        self.path, self.hint = path, hint

    def __str__(self):
        why = (f'{WRITE_FAILURES[self.errno]} ({self.strerror})' if self.errno in WRITE_FAILURES
               else self.strerror)
        return (f'cannot write {self.path}: {why}'
                + (f'; {self.hint}' if self.hint else ''))


class WriteFailed(Exception):
    """A child run stopped because it could not write a file: its own line, and how to go on."""


def write_failure(e):
    """The OSError of a failed write behind an exception, or None. numpy's zip writer (np.savez,
    Chainer's save_npz) raises ValueError('seek of closed file') while closing, after the OSError
    of the write itself: the chain of exceptions is searched for it."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, OSError) and e.errno in WRITE_FAILURES:
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def check_writable_dir(name, path):
    """Create `path` if needed and prove a file can be written there, before any training."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ConfigError(f'{name} {path!r} is not a writable directory: {e.strerror}') from None
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary name beside `path` (same extension); rename it to `path` on success.

    An interrupted write never leaves a truncated file under the real name."""
    folder, base = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(base)
    try:
        # no longer than the real name (a long run name comes near NAME_MAX): 14 characters
        # of '.', '.', mkstemp's 8 and '.tmp' replace the end of the stem
        fd, tmp = tempfile.mkstemp(prefix=f'.{stem[:max(1, len(stem) - 14)]}.',
                                   suffix=f'.tmp{ext}', dir=folder)
    except OSError as e:
        raise WriteError(path, e) from None
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would stick to the output
        os.replace(tmp, path)
    except Exception as e:  # a full disk or a folder no longer writable: one clear error
        error = write_failure(e)
        if error is None:
            raise
        raise WriteError(path, error) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text):
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=1) + '\n')


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_between_markers(path, body, markers):
    """Replace what lies between the two marker lines of a Markdown file, atomically."""
    start, end = markers
    with open(path) as f:
        text = f.read()
    pattern = re.compile(re.escape(start) + '.*?' + re.escape(end), re.S)
    if not pattern.search(text):
        raise ConfigError(f'{path} has no {start} ... {end} block to fill')
    write_text(path, pattern.sub(lambda _: f'{start}\n{body}{end}', text))
