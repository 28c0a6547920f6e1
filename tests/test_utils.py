import gzip
import os

import numpy as np
import pytest
from conftest import MNIST_DIR, needs_mnist

import utils
from lab import files, report
from lab.options import ConfigError


def write_idx(path, array, magic):
    """A standard IDX file: big-endian magic, the dimensions, then uint8 values."""
    header = np.array([magic, *array.shape], dtype='>u4').tobytes()
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_dir(tmp_path):
    """A tiny MNIST directory: 6 train images (gzipped) and 4 t10k images (plain), 28x28."""
    rng = np.random.default_rng(0)
    for split, n, ext in (('train', 6, '.gz'), ('t10k', 4, '')):
        write_idx(str(tmp_path / f'{split}-images-idx3-ubyte{ext}'),
                  rng.integers(0, 256, (n, 28, 28)), 2051)
        write_idx(str(tmp_path / f'{split}-labels-idx1-ubyte{ext}'), np.arange(n) % 10, 2049)
    return tmp_path


def test_idx_reader_reads_and_concatenates_both_pairs(idx_dir):
    x, y = utils.read_mnist_dir(str(idx_dir))
    assert x.shape == (10, 784) and x.dtype == np.uint8
    assert y.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]


def test_load_mnist_from_a_directory_scales_and_splits(idx_dir):
    data, target = split = utils.load_mnist(str(idx_dir), seed=0)
    assert split.name == 'mnist'
    assert [len(d) for d in data] == [7, 3]  # 25% test, rounded up as train_test_split does
    assert data[0].dtype == np.float32 and target[0].dtype == np.int32
    assert 0 <= data[0].min() and data[0].max() <= 1 and data[0].max() > 0.9


def test_idx_reader_rejects_wrong_magic(tmp_path):
    path = str(tmp_path / 'x-idx3-ubyte')
    write_idx(path, np.zeros((2, 3, 3)), 1234)
    with pytest.raises(ConfigError, match='magic number 1234'):
        utils.read_idx(path)


def test_idx_reader_rejects_truncated_file(tmp_path):
    path = str(tmp_path / 'x-idx3-ubyte')
    write_idx(path, np.zeros((2, 3, 3)), 2051)
    with open(path, 'r+b') as f:
        f.truncate(20)
    with pytest.raises(ConfigError, match='truncated or corrupt'):
        utils.read_idx(path)


def test_idx_reader_rejects_broken_gzip(tmp_path):
    path = tmp_path / 'x-idx3-ubyte.gz'
    path.write_bytes(b'not gzip at all')
    with pytest.raises(ConfigError, match='cannot be read'):
        utils.read_idx(str(path))


def test_mnist_dir_with_images_but_no_labels_is_refused(idx_dir):
    os.remove(idx_dir / 't10k-labels-idx1-ubyte')
    with pytest.raises(ConfigError, match='lacks t10k-labels-idx1-ubyte'):
        utils.read_mnist_dir(str(idx_dir))


def test_mnist_dir_without_mnist_files_names_the_directory(tmp_path):
    with pytest.raises(ConfigError, match=f'MNIST_DIR .*{tmp_path.name}.* holds no MNIST'):
        utils.load_mnist(str(tmp_path))


@needs_mnist
def test_all_of_mnist_and_the_originals_split():
    x, y = utils.read_mnist_dir(MNIST_DIR)  # the training files first, then t10k
    assert x.shape == (70000, 784) and y.shape == (70000,) and x.dtype == np.uint8
    # the published class counts of the training and the test set
    assert np.bincount(y[:60000]).tolist() == [5923, 6742, 5958, 6131, 5842,
                                                5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y[60000:]).tolist() == [980, 1135, 1032, 1010, 982,
                                                892, 958, 1028, 974, 1009]
    assert x[:60000].mean() / 255 == pytest.approx(0.13066, abs=5e-5)  # the published mean
    data, target = utils.load_mnist(MNIST_DIR, seed=1)
    assert [len(d) for d in data] == [52500, 17500] == [len(t) for t in target]  # 75/25
    (train, test), (y_train, y_test) = utils.load_mnist(MNIST_DIR, split='official')
    assert train.shape == (60000, 784) and test.shape == (10000, 784)  # MNIST's own split
    np.testing.assert_array_equal(test, x[60000:] / np.float32(255))
    assert np.bincount(y_test).tolist() == np.bincount(y[60000:]).tolist()
    np.testing.assert_array_equal(y_train, y[:60000])
    (train, held_out), (y_train, y_held_out) = utils.load_mnist(MNIST_DIR, split='validation')
    assert train.shape == (50000, 784) and held_out.shape == (10000, 784)  # of the 60,000
    np.testing.assert_array_equal(held_out, x[50000:60000] / np.float32(255))
    np.testing.assert_array_equal(y_held_out, y[50000:60000])  # MNIST's test set untouched


def test_the_digits_validation_split_is_the_random_splits_training_part_held_out():
    (train, test), (y_train, _) = utils.load_mnist(dataset='digits', seed=3)
    (fit, held_out), (y_fit, y_held_out) = utils.load_mnist(dataset='digits', seed=3,
                                                            split='validation')
    assert len(fit) + len(held_out) == len(train) and len(held_out) == round(len(train) / 4)
    np.testing.assert_array_equal(np.concatenate([fit, held_out]), train)  # the test part unused
    np.testing.assert_array_equal(np.concatenate([y_fit, y_held_out]), y_train)


def test_the_official_split_needs_both_official_sets(idx_dir):
    with pytest.raises(ConfigError, match="split='official' needs MNIST's 60000 training and "
                                          "10000 test images .* holds 10"):
        utils.load_mnist(str(idx_dir), split='official')


@pytest.mark.parametrize('split', ['official', 'validation'])
def test_the_official_split_offline_is_refused_not_replaced_by_digits(offline, split):
    with pytest.raises(ConfigError, match=f"split='{split}' needs MNIST, which is not available"):
        utils.load_mnist(split=split)


def test_offline_falls_back_to_digits_and_says_so(offline, capsys):
    data, target = split = utils.load_mnist(seed=0)
    assert split.name == 'digits'
    assert data[0].shape == (1347, 64) and len(data[1]) == 450
    assert 0 <= data[0].min() and data[0].max() == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'MNIST_DIR' in err and 'digits' in err


def test_dataset_mnist_never_falls_back(offline):
    with pytest.raises(ConfigError, match='MNIST_DIR'):
        utils.load_mnist(dataset='mnist')


def test_openml_copy_is_cached_and_a_corrupt_cache_rebuilt(monkeypatch, offline):
    import sklearn.datasets
    calls = []

    def fake_fetch(name, **kwargs):  # OpenML's answer: floats, labels as strings
        calls.append(name)
        return np.full((8, 784), 255.0), np.array(list('01234567'), dtype=object)

    monkeypatch.setattr(sklearn.datasets, 'fetch_openml', fake_fetch)
    first = utils.load_mnist(seed=0)
    again = utils.load_mnist(seed=0)
    assert calls == ['mnist_784'] and first.name == again.name == 'mnist'
    np.testing.assert_array_equal(first[0][0], again[0][0])
    assert sorted(np.concatenate(again[1]).tolist()) == list(range(8))

    cache = offline / 'mnist_784.npz'
    cache.write_bytes(cache.read_bytes()[:100])  # an interrupted write
    utils.load_mnist(seed=0)
    assert calls == ['mnist_784'] * 2 and utils.read_cache(str(cache)) is not None


def test_tile_images_square_count():
    rows = np.arange(9 * 16, dtype=float).reshape(9, 16)
    grid = utils.tile_images(rows)
    assert grid.shape == (3 * 5 - 1, 3 * 5 - 1) and grid.dtype == np.uint8
    tile = grid[5:9, 10:14]  # row 1, column 2: image 5, stretched to its own range
    assert tile.min() == 0 and tile.max() == 255
    np.testing.assert_array_equal(tile.ravel(), np.round(np.arange(16) / 15 * 255))
    assert (grid[4, :] == 255).all() and (grid[:, 9] == 255).all()  # separators


def test_tile_images_non_square_count_leaves_cells_blank():
    grid = utils.tile_images(np.random.default_rng(0).random((10, 784)))
    assert grid.shape == (3 * 29 - 1, 4 * 29 - 1)  # 4 columns, 3 rows, 2 cells unused
    assert (grid[58:, 58:] == 255).all()


def test_tile_images_explicit_shape_and_errors():
    assert utils.tile_images(np.ones((2, 6)), shape=(2, 3)).shape == (2, 7)
    assert utils.tile_images(np.ones((4, 30))).shape == (2 * 6 - 1, 2 * 7 - 1)  # 5x6 tiles
    assert utils.tile_images(np.ones((1, 7))).shape == (1, 7)  # a prime width: one row
    with pytest.raises(ConfigError, match=r'shape=\(4, 4\) holds 16 values'):
        utils.tile_images(np.ones((4, 30)), shape=(4, 4))


def test_save_images_writes_one_png(tmp_path):
    import matplotlib.image
    path = str(tmp_path / 'w.png')
    grid = utils.save_images(np.random.default_rng(0).random((100, 784)), path)
    assert grid.shape == (578, 578)  # 10x10 tiles of 28 + 1 - 1, enlarged twice
    np.testing.assert_array_equal(np.round(matplotlib.image.imread(path) * 255), grid)
    assert os.listdir(tmp_path) == ['w.png']  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # as an ordinary file


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures closed meanwhile (save_loss_curves closes its figure)."""
    import matplotlib.pyplot as plt
    closed = []
    close = plt.close
    monkeypatch.setattr(plt, 'close', lambda fig: (closed.append(fig), close(fig)))
    return closed


@pytest.mark.parametrize('epochs', [3, 20, 100])
def test_loss_curves_label_whole_epochs(tmp_path, figures, epochs):
    path = tmp_path / 'loss.png'
    utils.save_loss_curves({'train': list(np.linspace(1, 0, epochs))}, str(path))
    (ax,) = figures[0].axes
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert len(ticks) >= 2 and all(t == int(t) for t in ticks), ticks
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_a_long_run_name_fits_its_loss_figure_and_the_legend_covers_no_curve(tmp_path, figures):
    name = ('DAE_alg=Adam_epoch=180_corp=0nhidden1=1000nhidden2=500nhidden3=250nhidden4=30corp=0'
            'activate=sigmoid_code=identity_split=official_lr=0.001_lrdecay=0.987_loss=bce_drop=0')
    curves = {f'pretrain layer {i} {part}': [1., .5, .3] for i in (1, 2, 3, 4)
              for part in ('train', 'test')}
    utils.save_loss_curves(dict(curves, **{'fine-tune train': [.4, .2, .1]}),
                           str(tmp_path / 'loss.png'), title=name)
    fig = figures[0]
    (ax,) = fig.axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()
    title = ax.title.get_window_extent(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    saved = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)  # what was written
    assert ax.title.get_text().replace('\n', '') == name  # all of it, broken into lines
    assert saved.x0 <= title.x0 and title.x1 <= saved.x1
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # beside the axes, not on them


def test_reconstruction_rows_are_labelled_on_their_left(tmp_path):
    rows = np.random.default_rng(0).random((30, 64))
    plain = utils.save_images(rows, str(tmp_path / 'plain.png'), ncols=10, scale_each=False)
    labels = ['original', 'masked 30%', 'reconstructed']
    grid = utils.save_images(rows, str(tmp_path / 'labelled.png'), ncols=10, scale_each=False,
                             row_labels=labels)
    margin = grid.shape[1] - plain.shape[1]
    assert margin > 0 and grid.shape[0] == plain.shape[0]
    np.testing.assert_array_equal(grid[:, margin:], plain)  # the tiles as they were
    bands = np.array_split(grid[:, :margin], len(labels))
    assert all((band < 128).any() for band in bands)  # a word written in every row


def test_wrap_prose_breaks_long_paragraphs_and_items_and_leaves_tables_and_code_alone():
    words = ' '.join(f'word{i}' for i in range(60))
    table, code = '| ' + ' | '.join(['cell'] * 60) + ' |', 'python x.py ' + '--option ' * 30
    text = '\n'.join([words, '', '- ' + words, table, '```', code, '```', '    ' + code,
                      '# ' + words])
    lines = report.wrap_prose(text, 80).split('\n')
    assert table in lines and code in lines and '    ' + code in lines and '# ' + words in lines
    wrapped = [line for line in lines if line.startswith('word') or line.startswith(('- ', '  w'))]
    assert all(len(line) <= 80 for line in wrapped) and len(wrapped) > 4
    item = lines.index(next(line for line in lines if line.startswith('- ')))
    assert lines[item + 1].startswith('  word')  # the item goes on, indented
    assert ' '.join(' '.join(lines[:item]).split()) == words  # nothing lost or added


def test_a_name_as_long_as_the_file_system_allows_is_written_through_its_temporary_name(tmp_path):
    limit = os.pathconf(tmp_path, 'PC_NAME_MAX')
    path = tmp_path / ('x' * (limit - len('.png')) + '.png')  # the longest name there is
    with files.atomic_path(str(path)) as tmp:
        assert len(os.path.basename(tmp)) <= limit
        with open(tmp, 'w') as f:
            f.write('done')
    assert path.read_text() == 'done'


def test_a_run_whose_file_names_would_be_too_long_is_refused_before_training(tmp_path):
    from lab import run as lab_run
    limit = os.pathconf(tmp_path, 'PC_NAME_MAX')
    name = 'DAE_' + 'x' * (limit - len('DAE_') - len('layer2_in_pixels.png'))
    lab_run.check_names(str(tmp_path), name, ['layer2_in_pixels.png', 'run.json'])  # just fits
    with pytest.raises(ConfigError, match=r"the run's name is too long for its files: "
                                                r"'DAE_x+ylayer2_in_pixels.png' has \d+ bytes"):
        lab_run.check_names(str(tmp_path), name + 'y', ['layer2_in_pixels.png', 'run.json'])
