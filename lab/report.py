"""Generated pages: their words in Jinja2 templates, their numbers computed, the numbers kept
as JSON beside each page so that it can be rendered again; and the comparison rule.

The rule of every generated finding that calls one setting lower than another: their mean ± 2
sample standard deviations over the seeds do not overlap (apart); otherwise the two are not
distinguishable with that many seeds.
"""
import contextlib
import os
import textwrap
import time

import numpy as np

from lab import machine
from lab.files import atomic_path, write_json, write_text

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'experiments', 'templates')


# ---------------------------------------------------------------- the rule

def spread(values):
    """The mean and the sample standard deviation (nan for a single value) of a row's seeds."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float('nan')


def apart(a, b):
    """Whether two (mean, sd) differ beyond their spread: mean +- 2 sd do not overlap."""
    (ma, sa), (mb, sb) = a, b
    return ma + 2 * sa < mb - 2 * sb or mb + 2 * sb < ma - 2 * sa


def differ(a, b, key='test_mse'):
    """Whether rows a and b (with `key` and `key`_sd) differ beyond their spread in `key`;
    None with one seed."""
    if a[f'{key}_sd'] is None or b[f'{key}_sd'] is None:
        return None
    return apart((a[key], a[f'{key}_sd']), (b[key], b[f'{key}_sd']))


def above(row, key, value):
    """Whether a row's mean is above a value that does not depend on the seed (PCA's) by more
    than two of its standard deviations; None with one seed."""
    return None if row[f'{key}_sd'] is None else row[key] - 2 * row[f'{key}_sd'] > value


def below(row, key, value):
    """Whether a row's mean is below a value that does not depend on the seed (PCA's, a
    published figure) by more than two of its standard deviations; None with one seed."""
    return None if row[f'{key}_sd'] is None else row[key] + 2 * row[f'{key}_sd'] < value


def over_seeds(runs, keys):
    """A row from its runs over seeds: (the first seed's run with each of `keys`' mean and sd,
    summarise's; the runs in the order of their seeds)."""
    runs = sorted(runs, key=lambda r: r['seed'])
    return dict(runs[0], **summarise(runs, keys)), runs


def summarise(runs, keys):
    """For each of `keys`, the mean over `runs` (dicts) and its sample standard deviation as
    `<key>_sd` (None for a single run), as differ, above and below read them."""
    stats = {}
    for key in keys:
        mean, sd = spread([r[key] for r in runs])
        stats.update({key: mean, f'{key}_sd': None if np.isnan(sd) else sd})
    return stats


# ---------------------------------------------------------------- the pages

def header(command, seconds, jobs, results):
    """What made a page: its command, the machine and stack, its runs and their time."""
    trained = [r for r in results if r.get('command')]
    return dict(command=command, **machine.describe(), date=time.strftime('%Y-%m-%d'),
                runs=len(trained), cached=sum(r['cached'] for r in trained),
                training=sum(r['seconds'] for r in trained), jobs=jobs, seconds=seconds)


def data(split):
    """A page's words on its data: the set's name, its source (data_source), the image size
    and the number of training and test images."""
    (x_train, x_test), _ = split
    return dict(name=split.name, source=data_source(split), n_inputs=x_train.shape[1],
                n_train=len(x_train), n_test=len(x_test))


def data_source(split):
    """Where the images came from, in words that name no folder of this machine."""
    if split.name == 'digits':
        return '`sklearn.datasets.load_digits`'
    if os.path.isdir(split.source):
        return "MNIST's four official IDX files (`MNIST_DIR`)"
    return "OpenML's `mnist_784` (scikit-learn's `fetch_openml`)"


@contextlib.contextmanager
def figure(path, **subplots):
    """Within: a matplotlib figure and its axes, plt.subplots(**subplots); then the figure as
    a PNG at `path`, written atomically, and closed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(**subplots)
    try:
        yield fig, axes
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format='png', dpi=100)
    finally:
        plt.close(fig)


def plural(n, noun):
    return f'{n} {noun}{"" if n == 1 else "s"}'


def environment(folder=TEMPLATES):
    """Jinja2's environment of a folder of templates, with the number formats the pages use."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    def number(fn):  # NaN is a diverged run's measure (or the mean of rows with one): said so
        return lambda v, *args: 'diverged' if isinstance(v, float) and v != v else fn(v, *args)
    env.filters.update(
        fixed=number(lambda v, digits: f'{v:.{digits}f}'), f5=number(lambda v: f'{v:.5f}'),
        pct=number(lambda v: f'{100 * v:.1f}%'), per_image=number(lambda v, n: f'{v * n:.2f}'),
        g=lambda v: f'{v:g}', plural=plural, sizes=lambda sizes: str(tuple(sizes)),
        median_of=lambda values: float(np.median(values)),
        pm=number(lambda mean, sd, spec='.5f', scale=1: f'{mean * scale:{spec}}' + (
            '' if sd is None or sd != sd else f' ± {sd * scale:{spec}}')))
    return env


def render(template, folder=TEMPLATES, **context):
    """A page from a template: its words and layout there, its numbers from `context`."""
    return environment(folder).get_template(template).render(**context)


def plain(value):
    """value with its arrays left out (weights, components, codes) and NumPy's numbers made
    Python's: what a page's JSON holds."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not isinstance(v, np.ndarray)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def write_page(path, template, numbers, title='', json_name=None, folder=TEMPLATES, **context):
    """The page at `path` (Markdown) from `template`, its numbers and any other `context`, and
    the numbers beside it as JSON (the page's name with .json, or json_name): what renders the
    page again."""
    json_name = json_name or os.path.splitext(os.path.basename(path))[0] + '.json'
    write_json(os.path.join(os.path.dirname(path), json_name), numbers)
    write_text(path, title + render(template, folder, **numbers, **context))
    print(f'wrote {path} and {json_name}')


def write_block(path, name, numbers, folder=TEMPLATES, template=None):
    """The block between the markers `<!-- name:start -->` and `<!-- name:end -->` of the
    Markdown file at `path`, from the template name.md.j2 (or `template`) and `numbers`, which
    are written as name.json beside the file: what renders the block again."""
    from lab.files import write_between_markers
    write_json(os.path.join(os.path.dirname(path), f'{name}.json'), numbers)
    write_between_markers(path, render(template or f'{name}.md.j2', folder, **numbers),
                          (f'<!-- {name}:start -->', f'<!-- {name}:end -->'))
    print(f'wrote the {name} block of {path} and {name}.json')


def wrap_prose(markdown, width=120):
    """Markdown with its long paragraphs and list items broken into lines of at most `width`
    characters where they have spaces (tables, code, headings and pictures as they are): the
    same page, readable as text."""
    out, fenced = [], False
    for line in markdown.split('\n'):
        fenced ^= line.startswith('```')
        if fenced or line.startswith(('```', '|', '#', '<', '![', '    ')) or len(line) <= width:
            out.append(line)
            continue
        indent = '  ' if line.startswith('- ') else ''
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                             break_on_hyphens=False)
    return '\n'.join(out)
