"""A full disk, or a folder that stops being writable: one line naming the file, exit status 1,
the last complete snapshot kept with the command that resumes it, no temporary file left.

The writes are made to fail as the OS makes them fail: in-process, the system calls of files
opened under the temporary names of files.atomic_path fail with ENOSPC once N bytes are written,
beneath Python's own buffered file objects (so numpy's zip writer, PIL and matplotlib go down
their real paths); as root, for real, on a small tmpfs mounted for the test."""
import builtins
import errno
import io
import json
import os
import re
import subprocess
import time

import numpy as np
import pytest
from conftest import ROOT, full, run_script, script_command

import utils
from lab import files


class FullDisk(io.RawIOBase):
    """The file's system calls, as on a disk with `room` bytes left: a write takes what fits,
    then fails with ENOSPC. Python's buffered file objects sit on top, as on a real file."""

    def __init__(self, raw, room):
        self.raw, self.room = raw, room

    def write(self, data):
        n = min(len(data), self.room)
        if n == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= n
        return self.raw.write(bytes(data[:n]))

    def readinto(self, buffer):
        return self.raw.readinto(buffer)

    def seek(self, offset, whence=0):
        return self.raw.seek(offset, whence)

    def tell(self):
        return self.raw.tell()

    def truncate(self, size=None):
        return self.raw.truncate(size)

    def fileno(self):
        return self.raw.fileno()

    def readable(self):
        return self.raw.readable()

    def writable(self):
        return self.raw.writable()

    def seekable(self):
        return self.raw.seekable()

    def close(self):
        self.raw.close()
        super().close()


@pytest.fixture
def disk_with_room(monkeypatch):
    """disk_with_room(n): from now on, files written under atomic_path's temporary names have n
    bytes of room, then their writes fail with ENOSPC."""
    real_open = builtins.open

    def set_room(room):
        def limited_open(file, mode='r', buffering=-1, encoding=None, *args, **kwargs):
            name = os.path.basename(os.fspath(file)) if isinstance(file, (str, os.PathLike)) else ''
            if not (any(m in mode for m in 'wax+') and name.startswith('.') and '.tmp' in name):
                return real_open(file, mode, buffering, encoding, *args, **kwargs)
            raw = FullDisk(real_open(file, mode.replace('t', '') + ('b' if 'b' not in mode else ''),
                                     buffering=0), room)
            buffered = (io.BufferedRandom if '+' in mode else io.BufferedWriter)(raw)
            return buffered if 'b' in mode else io.TextIOWrapper(buffered, encoding or 'utf-8')
        monkeypatch.setattr(builtins, 'open', limited_open)
        monkeypatch.setattr(io, 'open', limited_open)
    return set_room


def no_temporary_files(folder):
    return [name for name in os.listdir(folder) if '.tmp' in name]


def test_a_full_disk_under_numpys_zip_writer_is_found_behind_what_it_raises(tmp_path,
                                                                           disk_with_room):
    """np.savez into a full disk raises the OSError on NumPy 2; NumPy 1.26's zip writer raised
    ValueError('seek of closed file') while handling it. Either way the ENOSPC is found."""
    disk_with_room(1000)
    with pytest.raises((OSError, ValueError)) as caught:
        np.savez(str(tmp_path / '.x.tmp.npz'), a=np.zeros(10000))
    assert files.write_failure(caught.value).errno == errno.ENOSPC
    try:
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise ValueError('seek of closed file')
    except ValueError as e:
        assert files.write_failure(e).errno == errno.ENOSPC
    assert files.write_failure(FileNotFoundError(errno.ENOENT, 'no such file')) is None


def small_trainer():
    import autoencoder as ae
    x = np.random.default_rng(0).random((40, 16), dtype=np.float32)
    return ae.Train_AutoEncoder([x[:30], x[30:]], ae.AutoEncoder(16, 4), rng=1)


def outputs(path):
    """A run's outputs written (lab.run.Run.save_outputs), as `path` + their suffixes."""
    import autoencoder as ae
    from lab.run import Run
    run = Run(ae.__file__, dict(ae.HYPERPARAMETERS, out=os.path.dirname(path)))
    run.out_dir, run.loaded = os.path.dirname(path), utils.load_mnist(dataset='digits')
    trainer = small_trainer()
    trainer.loss_values, trainer.test_loss_values, trainer.seconds = [1.], [1.], [1.]
    run.trainer, run.name = trainer, os.path.basename(path)
    run.save_outputs({}, utils.save_images, utils.save_loss_curves)


WRITERS = {
    'snapshot': lambda path: __import__('lab.snapshots').snapshots.save(small_trainer(),
                                                                       path + '.npz', {}),
    'model': outputs,
    'picture': lambda path: utils.save_images(np.random.default_rng(0).random((100, 784)),
                                              path + '.png'),
    'loss curves': lambda path: utils.save_loss_curves({'train': [3., 2., 1.]}, path + '.png'),
    'json': lambda path: files.write_json(path + '.json', {'x': list(range(10000))}),
    'mnist cache': lambda path: utils.write_cache(path + '.npz', np.zeros((100, 784), np.uint8),
                                                  np.zeros(100, np.uint8)),
}


@pytest.mark.parametrize('what', sorted(WRITERS))
@pytest.mark.parametrize('room', [0, 500])
def test_every_writer_fails_with_one_error_naming_its_file(tmp_path, disk_with_room, what, room):
    disk_with_room(room)
    with pytest.raises(files.WriteError) as caught:
        WRITERS[what](str(tmp_path / 'out'))
    message = str(caught.value)
    hint = '; nothing to resume: no snapshot was written before' if what == 'model' else ''
    assert re.match(rf'cannot write {re.escape(str(tmp_path))}/out\S*: the disk is full '
                    rf'\(No space left on device\){re.escape(hint)}', message), message
    assert os.listdir(tmp_path) == []  # nothing half-written, no temporary file


def test_a_readme_block_that_cannot_be_written_is_left_as_it_was(tmp_path, disk_with_room):
    readme = tmp_path / 'README.md'
    readme.write_text('a\n<!-- s -->\nold\n<!-- e -->\nb\n')
    disk_with_room(3)
    with pytest.raises(files.WriteError, match='README.md: the disk is full'):
        files.write_between_markers(str(readme), 'new ' * 1000 + '\n', ('<!-- s -->', '<!-- e -->'))
    assert readme.read_text() == 'a\n<!-- s -->\nold\n<!-- e -->\nb\n'
    assert no_temporary_files(tmp_path) == []


def test_a_cache_that_cannot_be_written_costs_only_the_cache(tmp_path, disk_with_room, monkeypatch,
                                                              capsys):
    import sklearn.datasets
    x, y = np.zeros((70000, 784), np.uint8), np.full(70000, '3')
    monkeypatch.setattr(sklearn.datasets, 'fetch_openml', lambda *a, **k: (x, y))
    disk_with_room(10)
    (images, labels), cache = utils.fetch_openml_mnist(str(tmp_path))
    assert images.shape == (70000, 784) and labels[0] == 3
    assert 'warning: MNIST was downloaded but its cache was not kept (cannot write' in \
        capsys.readouterr().err
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- for real, on a small tmpfs

def needs_root(test):
    """A test on a tmpfs mounted for it: in make test-all only, as root (CI runs as root)."""
    return full(pytest.mark.skipif(os.geteuid() != 0, reason='mounting a tmpfs needs root (CI '
                                   'runs as root, so it runs there)')(test))


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size): a fresh tmpfs of that size; remount(size or 'ro') changes it."""
    where = tmp_path / 'disk'
    where.mkdir()
    mounted = []

    def mount(size):
        subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(where)],
                       check=True)
        mounted.append(where)
        return where

    def remount(option):
        """A read-only remount is refused while a file is open for writing (a snapshot being
        written): tried again until the writer is done."""
        option = 'ro' if option == 'ro' else f'size={option}'
        for _ in range(200):
            if subprocess.run(['mount', '-o', f'remount,{option}', str(where)],
                              capture_output=True).returncode == 0:
                return
            time.sleep(.05)
        pytest.fail(f'could not remount {where} {option}')
    yield mount, remount
    for folder in mounted:
        subprocess.run(['umount', str(folder)], check=False)


DIGITS_RUN = ('--dataset', 'digits', '--epoch', '3')


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and 'Traceback' not in result.stderr, result.stderr
    return lines[0]


@needs_root
def test_a_disk_full_before_the_first_snapshot_has_nothing_to_resume(tmpfs):
    mount, _ = tmpfs
    disk = mount('64k')
    line = one_error_line(run_script('autoencoder.py', *DIGITS_RUN, '--out', str(disk)))
    assert re.match(r'autoencoder\.py: error: cannot write \S+snapshot\.npz: the disk is full '
                    r'\(No space left on device\); nothing to resume', line), line
    assert no_temporary_files(disk / 'digits') == []


@needs_root
def test_a_disk_full_keeps_the_last_snapshot_and_its_resume_finishes_the_run(tmpfs, tmp_path):
    mount, remount = tmpfs
    disk = mount('150k')
    line = one_error_line(run_script('autoencoder.py', *DIGITS_RUN, '--out', str(disk)))
    resume = re.search(r'the last complete snapshot is kept \(epoch 1 done\); once there is room, '
                       r'continue with: (python autoencoder\.py --resume (\S+snapshot\.npz))$',
                       line)
    assert resume, line
    snapshot = resume.group(2)
    assert os.path.exists(snapshot) and no_temporary_files(disk / 'digits') == []
    # Resumed onto the disk that is still full: one line again, the same snapshot kept.
    again = one_error_line(run_script('autoencoder.py', '--resume', snapshot))
    assert again.split('; ', 1)[1] == line.split('; ', 1)[1]  # the file may be its log
    # With room, the resume finishes what an uninterrupted run gives.
    remount('20m')
    finished = run_script('autoencoder.py', '--resume', snapshot)
    assert finished.returncode == 0, finished.stderr
    alone = run_script('autoencoder.py', *DIGITS_RUN, '--out', str(tmp_path / 'alone'))
    assert alone.returncode == 0, alone.stderr
    record = lambda folder: json.load(open(next(  # noqa: E731
        os.path.join(folder, f) for f in os.listdir(folder) if f.endswith('run.json'))))
    a, b = record(disk / 'digits'), record(tmp_path / 'alone' / 'digits')
    assert a['loss_values'] == b['loss_values'] and a['test_loss_values'] == b['test_loss_values']


@needs_root
def test_a_folder_that_becomes_read_only_during_training_stops_with_one_line(tmpfs):
    mount, remount = tmpfs
    disk = mount('20m')
    process = subprocess.Popen(script_command('deep_autoencoder.py', '--dataset', 'digits',
                                              '--pretrain-epoch', '50', '--finetune-epoch', '2',
                                              '--out', str(disk)),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # epoch 2's line: epoch 1's snapshot is written (the line of
        if line.startswith('pretrain layer 1, epoch 2/'):  # an epoch comes before its snapshot)
            remount('ro')
            break
    out, err = process.communicate(timeout=300)
    assert process.returncode == 1, err
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(r'cannot write \S+snapshot\.npz: the file system is read-only \(Read-only '
                     r'file system\); the last complete snapshot is kept \(pretraining layer 1, '
                     r'epoch \d+ done\); once there is room, continue with: python '
                     r'deep_autoencoder\.py --resume \S+snapshot\.npz$', err.strip()), err


@needs_root
def test_reproduce_reports_the_run_that_failed_and_stops(tmpfs):
    mount, _ = tmpfs
    disk = mount('150k')
    result = subprocess.run(script_command('reproduce.py', '--quick', '--out', str(disk / 'rep')),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    line = one_error_line(result)
    assert re.match(r'reproduce\.py: error: autoencoder\.py: error: cannot write \S+: the disk is '
                    r'full .*\(reproduce\.py resumes it from there: run the same reproduce\.py '
                    r'command again\)$', line), line
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(disk) for f in files if '.tmp' in f]
    assert leftovers == []
    assert not (disk / 'rep' / 'README.md').exists()


@needs_root
def test_search_reports_the_run_that_failed_with_its_line_and_how_to_go_on(tmpfs, tmp_path):
    mount, _ = tmpfs
    # 40k: the smallest trial of the space (25 units, MomentumSGD: a 29k snapshot) cannot write
    # its second; at 150k an unseeded trial once drew one small enough to finish (in CI)
    disk = mount('40k')
    result = subprocess.run(script_command(
        'search.py', 'autoencoder.py', '--dataset', 'digits', '--n-trials', '1', '--out',
        str(disk), '--storage', f'sqlite:///{tmp_path / "s.db"}', '--sampler-seed', '0'),
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]  # after the line that queues the trial again
    assert re.match(r'search\.py: error: autoencoder\.py: error: cannot write \S+: the disk is '
                    r'full .*\(search\.py resumes it from there: run the same search\.py '
                    r'command again\)$', line), line
