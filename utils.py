"""The original's helpers: MNIST, and pictures of weights. The parts that are not Chainer.

Not all pure: load_mnist reads files, may download MNIST once and write its cache, and
announces a fallback on stderr; the save_ functions write files (atomically, lab.files).

load_mnist  MNIST as the original's `[train, test]` pairs, from a local IDX directory,
            scikit-learn's OpenML copy (downloaded once, cached as a checksummed .npz), or,
            offline, the 8x8 digits bundled with scikit-learn (announced on stderr, and named
            so it is never taken for MNIST). Bad input is a ConfigError naming the parameter.
tile_images rows of flattened images (square, or any width) -> one uint8 grid (pure).
save_images the original's name: tile_images, then one PNG.
save_loss_curves  the losses after every epoch, one PNG.
"""
import gzip
import hashlib
import math
import os
import sys
import textwrap
import warnings

import numpy as np

from lab.files import atomic_path
from lab.options import DATASETS, ConfigError, check_choice, check_split

MNIST_FILES = {  # split -> (images, labels), the standard names
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    't10k': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
MNIST_SIZES = (60000, 10000)  # MNIST's own training and test sets, in that order
VALIDATION = 10000  # split='validation': the last images of MNIST's training set, held out
HOW_TO_GET_MNIST = ('put the MNIST IDX files (train-images-idx3-ubyte.gz, ...) in a directory '
                    'and set MNIST_DIR to it, or run once with network access')


# ---------------------------------------------------------------- data

DIGITS_PICTURES = ('these are pictures of the 8x8 digits, not of MNIST: 64 pixels a picture, '
                   'so the filters look like noise beside the 28x28 strokes an MNIST run draws; '
                   f'to train on MNIST, {HOW_TO_GET_MNIST} (README: Getting MNIST)')


class DataSplit(tuple):
    """`(data, target)`, each a `[train, test]` pair, as the original's load_mnist returned.

    `.name` ('mnist' or 'digits') and `.source` say where the images came from, `.how` how
    they were split, in words; `.note`, what a run's pictures of them should be expected to
    show, where that needs saying (the digits), else None."""

    def __new__(cls, data, target, name, source, split='random', seed=0):
        self = super().__new__(cls, (data, target))
        self.name, self.source = name, source
        self.how = {'official': 'its own split', 'validation': 'its training set split for '
                    'validation (its test set unused)'}.get(split, f'a random split (seed {seed})')
        if split == 'validation' and name == 'digits':
            self.how = f'the training part of a random split (seed {seed}) split for validation'
        self.note = DIGITS_PICTURES if name == 'digits' else None
        return self


def read_idx(path):
    """Read one IDX file (gzipped or not): uint8 images (n, rows*cols) or labels (n,)."""
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ConfigError(f'MNIST file {path} cannot be read: {e}') from None
    if len(raw) < 8:
        raise ConfigError(f'MNIST file {path} is truncated: {len(raw)} bytes, no IDX header')
    magic, n = np.frombuffer(raw[:8], dtype='>u4')
    if magic == 2051:
        if len(raw) < 16:
            raise ConfigError(f'MNIST file {path} is truncated: {len(raw)} bytes, no IDX header')
        rows, cols = np.frombuffer(raw[8:16], dtype='>u4')
        header, shape = 16, (int(n), int(rows) * int(cols))
    elif magic == 2049:
        header, shape = 8, (int(n),)
    else:
        raise ConfigError(f'MNIST file {path} has magic number {magic}, expected 2051 '
                          f'(images) or 2049 (labels): not an MNIST IDX file')
    expected = header + math.prod(shape)
    if len(raw) != expected:
        raise ConfigError(f'MNIST file {path} has {len(raw)} bytes, its header promises '
                          f'{expected}: truncated or corrupt')
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(folder, name):
    for candidate in (name, name + '.gz'):
        if os.path.exists(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    return None


def read_mnist_dir(folder):
    """Images (n, 784) uint8 and labels (n,) from whichever standard IDX pairs are in `folder`."""
    if not os.path.isdir(folder):
        raise ConfigError(f'MNIST_DIR {folder!r} is not a directory')
    images, labels = [], []
    for image_name, label_name in MNIST_FILES.values():
        image_path, label_path = _find(folder, image_name), _find(folder, label_name)
        if image_path is None and label_path is None:
            continue
        if image_path is None or label_path is None:
            missing = image_name if image_path is None else label_name
            raise ConfigError(f'MNIST_DIR {folder!r} lacks {missing}[.gz], the pair of '
                              f'{os.path.basename(image_path or label_path)}')
        x, y = read_idx(image_path), read_idx(label_path)
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise ConfigError(f'MNIST files {image_path} and {label_path} do not match: '
                              f'{x.shape} images, {y.shape} labels')
        images.append(x)
        labels.append(y)
    if not images:
        raise ConfigError(f'MNIST_DIR {folder!r} holds no MNIST IDX files '
                          f'(expected {", ".join(n for p in MNIST_FILES.values() for n in p)}, '
                          f'gzipped or not)')
    return np.concatenate(images), np.concatenate(labels)


def _checksum(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def read_cache(path):
    """(images, labels) from our .npz cache, or None when it is missing, truncated or corrupt."""
    try:
        with np.load(path) as f:
            x, y, digest = f['images'], f['labels'], str(f['sha256'])
    except Exception:  # missing, truncated, not a zip, wrong keys: rebuild it
        return None
    return (x, y) if digest == _checksum(x, y) else None


def write_cache(path, x, y):
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    with atomic_path(path) as tmp:
        np.savez(tmp, images=x, labels=y, sha256=_checksum(x, y))


def fetch_openml_mnist(cache_dir=None):
    """MNIST from scikit-learn's OpenML copy, converted once into a checksummed .npz cache."""
    from sklearn.datasets import fetch_openml, get_data_home
    cache = os.path.join(cache_dir or get_data_home(), 'mnist_784.npz')
    cached = read_cache(cache)
    if cached is not None:
        return cached, cache
    with warnings.catch_warnings():  # its retry warnings; a failure is reported by the caller
        warnings.simplefilter('ignore')
        x, y = fetch_openml('mnist_784', version=1, as_frame=False, parser='liac-arff',
                            data_home=cache_dir, n_retries=1, delay=0.5, return_X_y=True)
    x, y = np.asarray(x, dtype=np.uint8), np.asarray(y).astype(np.uint8)  # labels are strings
    try:
        write_cache(cache, x, y)
    except OSError as e:  # only the cache is lost (disk full, no rights): the run goes on
        print(f'warning: MNIST was downloaded but its cache was not kept ({e}); the next run '
              f'downloads it again', file=sys.stderr)
    return (x, y), cache


def load_digits_8x8():
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return x / 16.0, y


def load_mnist(mnist_dir=None, dataset='auto', test_size=0.25, seed=0, cache_dir=None,
               split='random'):
    """Images float32 in [0, 1] shaped (N, pixels), labels int32, split as the original.

    Returns a DataSplit: `data, target = load_mnist()` gives `data = [x_train, x_test]`
    and `target = [y_train, y_test]`, `.name` the data set ('mnist' or 'digits').

    Sources, in order: `mnist_dir` or $MNIST_DIR (standard IDX files); the .npz cache of
    scikit-learn's OpenML copy, or a download of it; with dataset='auto' only, the 8x8
    digits bundled with scikit-learn (announced on stderr). dataset='mnist' never falls
    back; dataset='digits' goes straight to the bundled digits.

    split='random' (the original's): a seeded train_test_split, `test_size` of all images
    for testing. split='official': MNIST's own 60,000 training and 10,000 test images
    (all four IDX files needed); an error with the digits. split='validation': for choosing
    settings without the test set, MNIST's first 50,000 training images to train on and its
    last 10,000 as the test set (MNIST's own test images are not used); with the digits, the
    training part of the random split, its last quarter held out as the test set (the
    random split's test part is not used).
    """
    from sklearn.model_selection import train_test_split
    check_choice('dataset', dataset, DATASETS)
    check_split(split, dataset)
    if not (isinstance(test_size, float) and 0 < test_size < 1):
        raise ConfigError(f'test_size must be a fraction in (0, 1), got {test_size!r}')
    mnist_dir = os.path.expanduser(mnist_dir or os.environ.get('MNIST_DIR') or '') or None
    if dataset == 'digits':
        (x, y), name, source = load_digits_8x8(), 'digits', 'sklearn.datasets.load_digits'
    elif mnist_dir:
        (x, y), name, source = read_mnist_dir(mnist_dir), 'mnist', os.path.abspath(mnist_dir)
    else:
        try:
            (x, y), source = fetch_openml_mnist(cache_dir)
            name = 'mnist'
        except Exception as e:  # no network, OpenML down, ...
            if dataset == 'mnist':
                raise ConfigError(f'dataset=mnist: MNIST_DIR is not set and the OpenML '
                                  f'download failed ({type(e).__name__}); '
                                  f'{HOW_TO_GET_MNIST}') from None
            if split != 'random':  # a split chosen for MNIST is not given the digits unasked
                raise ConfigError(f"split={split!r} needs MNIST, which is not available "
                                  f"(MNIST_DIR is not set and the OpenML download failed: "
                                  f"{type(e).__name__}); {HOW_TO_GET_MNIST}") from None
            print(f'NOTE: MNIST not available (MNIST_DIR unset, OpenML download failed: '
                  f'{type(e).__name__}); using scikit-learn\'s bundled 8x8 digits instead, '
                  f'outputs go under "digits". To use MNIST, {HOW_TO_GET_MNIST}.',
                  file=sys.stderr)
            (x, y), name, source = load_digits_8x8(), 'digits', 'sklearn.datasets.load_digits'
    x = np.asarray(x, dtype=np.float32)
    if name == 'mnist':
        x /= 255.0
    y = np.asarray(y, dtype=np.int32)
    if split == 'validation' and name == 'digits':
        x, _, y, _ = train_test_split(x, y, test_size=test_size, random_state=seed)
        n = len(x) - round(len(x) * test_size)
        return DataSplit([x[:n], x[n:]], [y[:n], y[n:]], name, source, split, seed)
    if split != 'random':
        if len(x) != sum(MNIST_SIZES):
            raise ConfigError(f"split={split!r} needs MNIST's {MNIST_SIZES[0]} training and "
                              f"{MNIST_SIZES[1]} test images (all four IDX files); "
                              f"{source} holds {len(x)}")
        n = MNIST_SIZES[0] - (VALIDATION if split == 'validation' else 0)
        end = MNIST_SIZES[0] if split == 'validation' else len(x)
        return DataSplit([x[:n], x[n:end]], [y[:n], y[n:end]], name, source, split)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size,
                                                        random_state=seed)
    return DataSplit([x_train, x_test], [y_train, y_test], name, source, split, seed)


# ---------------------------------------------------------------- pictures

def tile_images(rows, shape='auto', ncols=None, pad=1, scale_each=True, name='rows'):
    """Tile rows (each a flattened image) into one uint8 grid, near-square by default.

    shape: (height, width) of each image, or 'auto': square where the width is a square
    (784 -> 28x28, 100 -> 10x10), else the most nearly square factors (30 -> 5x6).
    scale_each: stretch each tile to its own [min, max] (weights); otherwise clip
    to [0, 1] (pixel values). Tiles are separated by `pad` white pixels; unused
    cells of the grid stay white. Pure: returns the array. `name`: the rows' name in errors.
    """
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ConfigError(f'{name} must be a non-empty 2-D array of flattened images, '
                          f'got shape {rows.shape}')
    if not np.isfinite(rows).all():
        raise ConfigError(f'{name} contains NaN or infinite values')
    n, width = rows.shape
    if shape == 'auto':
        h = max(d for d in range(1, math.isqrt(width) + 1) if width % d == 0)
        shape = (h, width // h)
    h, w = shape
    if h * w != width:
        raise ConfigError(f'shape={tuple(shape)} holds {h * w} values, but rows have {width}')
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    if scale_each:
        lo, hi = rows.min(axis=1, keepdims=True), rows.max(axis=1, keepdims=True)
        rows = (rows - lo) / np.where(hi > lo, hi - lo, 1)
    tiles = np.ones((nrows * ncols, h + pad, w + pad))
    tiles[:n, :h, :w] = np.clip(rows, 0, 1).reshape(n, h, w)
    grid = tiles.reshape(nrows, ncols, h + pad, w + pad).transpose(0, 2, 1, 3)
    grid = grid.reshape(nrows * (h + pad), ncols * (w + pad))[:-pad or None, :-pad or None]
    return np.round(grid * 255).astype(np.uint8)


def save_images(data_list, filename, shape='auto', ncols=None, scale_each=True, min_size=480,
                row_labels=None):
    """Write the tiled rows as one grey PNG (enlarged by whole pixels to about min_size);
    `row_labels`: one word for each row of tiles, written on its left."""
    grid = tile_images(data_list, shape, ncols=ncols, scale_each=scale_each, name='data_list')
    k = max(1, -(-min_size // max(grid.shape)))  # ceil
    grid = np.kron(grid, np.ones((k, k), dtype=np.uint8))
    from PIL import Image  # Pillow, which matplotlib requires
    image = Image.fromarray(grid)
    if row_labels:
        image = labelled(image, row_labels)
    with atomic_path(filename) as tmp:
        image.save(tmp, format='png', optimize=True)  # 8-bit grey
    return np.asarray(image)


def labelled(image, labels):
    """`image` with a white margin on its left, each label centred on its own row of tiles."""
    from PIL import Image, ImageDraw, ImageFont
    height = image.height / len(labels)
    font = ImageFont.load_default(size=max(10, min(18, height / 3)))
    margin = int(max(ImageDraw.Draw(image).textlength(label, font) for label in labels)) + 12
    canvas = Image.new('L', (image.width + margin, image.height), 255)
    canvas.paste(image, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        draw.text((margin - 6, (i + .5) * height), label, fill=0, font=font, anchor='rm')
    return canvas


def save_loss_curves(curves, filename, title=''):
    """One PNG of loss histories: `curves` maps a label to a list of per-epoch losses."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker='.', label=label)
    ax.set(xlabel='epoch', ylabel='mean squared error per pixel')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    # A run's name is long and has no spaces: broken after its underscores to fit the width.
    lines = textwrap.wrap(title.replace('_', '_ '), 90, break_on_hyphens=False)
    ax.set_title('\n'.join(line.replace('_ ', '_') for line in lines), fontsize=8)
    ax.grid(alpha=.3)
    ax.legend(loc='upper left', bbox_to_anchor=(1.02, 1), fontsize=8)  # beside the curves
    with atomic_path(filename) as tmp:
        fig.savefig(tmp, format='png', dpi=100, bbox_inches='tight')
    plt.close(fig)
