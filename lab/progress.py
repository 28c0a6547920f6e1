"""The progress bar inside an epoch: tqdm's, on a terminal only (quiet on a file or a pipe),
gone before the epoch's line is printed."""
import sys

from tqdm import tqdm


def bar(total, description, enabled=True, stream=None):
    """A tqdm bar of `total` images for one epoch (a context manager); update(n) as minibatches
    are done; it is cleared at its end. Shown only if enabled and the stream is a terminal."""
    stream = stream or sys.stdout
    return tqdm(total=total, desc=description, unit='images', file=stream, leave=False,
                disable=not (enabled and stream.isatty()), mininterval=.5,
                dynamic_ncols=True)
