"""Where a run computes: a Chainer device from its name, and MPI (ChainerMN) communicators.

chainermn, and with it mpi4py, is imported only when a communicator is asked for.
"""
import contextlib
import re

import chainer
import numpy as np

from lab.options import COMMUNICATORS, ConfigError, check_choice, check_int

HOST = chainer.get_device('@numpy')  # outputs are written from host copies


def get_device(device):
    """chainer.get_device, with a clear error: '@numpy' (the CPU), '@cupy:0' (the first GPU)."""
    if isinstance(device, chainer.backend.Device):
        return device
    try:
        return chainer.get_device(device)
    except Exception as e:  # Chainer raises RuntimeError, ValueError or KeyError
        hint = ' (a GPU needs CuPy: pip install cupy-cuda12x)' if 'cupy' in str(device) else ''
        raise ConfigError(f'device must be a Chainer device such as @numpy or @cupy:0; '
                          f'{device!r} cannot be used: {" ".join(str(e).split())}{hint}') from None


def get_communicator(communicator):
    """A ChainerMN communicator (this process is one rank of an `mpiexec -n N` job), or None."""
    if communicator is None:
        return None
    check_choice('communicator', communicator, COMMUNICATORS)
    try:
        import chainermn
    except ImportError as e:
        raise ConfigError(f'communicator {communicator!r} needs mpi4py and an MPI library '
                          f'(make mpi-setup): {e}') from None
    try:
        return chainermn.create_communicator(communicator)
    except Exception as e:  # e.g. the NCCL ones without CuPy
        raise ConfigError(f'communicator {communicator!r} cannot be used: '
                          f'{" ".join(str(e).split())}') from None


def check_batchsize(batchsize, comm=None):
    """An integer >= 1 that, with a communicator, divides among its processes."""
    check_int('batchsize', batchsize)
    if comm is not None and batchsize % comm.size:
        raise ConfigError(f'batchsize {batchsize} (the global minibatch) must be a multiple of '
                          f'the number of processes, {comm.size}')
    return batchsize


# A container's memory limit and use: cgroup v2's files, then v1's.
CGROUPS = (('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'),
           ('/sys/fs/cgroup/memory/memory.limit_in_bytes',
            '/sys/fs/cgroup/memory/memory.usage_in_bytes'))


def available_memory(device=HOST):
    """The bytes a process may still take on `device`: a GPU's free memory; on the CPU the least
    of the kernel's estimate (MemAvailable) and what the container's limit leaves; None where
    none of them can be read (not Linux)."""
    if device.xp is not np:
        return int(device.xp.cuda.runtime.memGetInfo()[0])
    found = []
    with contextlib.suppress(OSError, TypeError, ValueError), open('/proc/meminfo') as f:
        found.append(1024 * int(re.search(r'MemAvailable:\s*(\d+)', f.read())[1]))
    for limit, usage in CGROUPS:
        with contextlib.suppress(OSError, ValueError), open(limit) as f, open(usage) as g:
            found.append(int(f.read()) - int(g.read()))  # a limit of 'max': none
    return min(found, default=None)


def split_stream(rng, rank):
    """Give MPI rank `rank` a stream of its own, in place: every rank starts from the same seed,
    so all draw the same number and reseed from it and their rank."""
    rng.bit_generator.state = np.random.default_rng(
        [int(rng.integers(2**63)), rank]).bit_generator.state


def multi_node(optimizer, comm):
    """The optimizer wrapped so that gradients are averaged across the processes every step."""
    import chainermn
    return chainermn.create_multi_node_optimizer(optimizer, comm)


def share_out(data, comm, seed):
    """Rank 0's [train, test] shared out among the processes: the training set shuffled and
    padded to equal shares, the test set split as it is."""
    import chainermn
    train, test = data or (None, None)
    return [np.asarray(chainermn.scatter_dataset(train, comm, shuffle=True, seed=seed)[:]),
            np.asarray(chainermn.scatter_dataset(test, comm, force_equal_length=False)[:])]
