"""Re-run the original write-up's experiments into figures/, and answer what it could not.

    MNIST_DIR=../shared/data/mnist python reproduce.py --jobs 2   # the committed figures/
    python reproduce.py --quick                                  # the same grid, tiny, on digits

The original's experiments (../shared/docs/original.md), Adam, batch 100:
  activations  784 -> 100: relu, sigmoid, tanh; noise .30, dropout .10, 20 epochs
  best         sigmoid, noise .30, dropout .30, 10 epochs
  epochs       the best setting at 20 and 30 epochs
  deep         DAE, sigmoid, hidden sizes (100, 25) and (784, 100), pretraining 20 epochs a
               layer, then fine-tuning 10
and what it could not tell:
  PCA          for every run, the test error of PCA with as many components as the code
  probe        for every run, a linear probe: logistic regression fitted on the codes of the
               training set, its accuracy on the test set (and the same on pixels, PCA codes)
  linear       a linear tied autoencoder (identity, W2 = W1^T, no noise, no dropout), k = 100,
               trained with a decaying learning rate until it converges to PCA with k = 100:
               test errors and the principal angles between their subspaces, epoch by epoch
  pretraining  DAE (100, 25) with and without pretraining, same epochs and seed: with the
               original's settings, and on plain reconstruction (no noise, no dropout)
               fine-tuned until it beats PCA with 25 components

Every run writes its weight pictures (the original's names) and the script writes one table,
figures/README.md, also rendered into the Results section of README.md. The runs are
independent: --jobs N runs them in N processes, each with one BLAS thread, so the numbers are
the same whatever N. A line is printed as each run starts and as it ends.
"""
import argparse
import os
import platform
import re
import sys
import time

import numpy as np

import utils
from utils import ConfigError

SEED_SPLIT, SEED_AE, SEED_DAE = 1, 1, 71
README_START, README_END = '<!-- results:start -->', '<!-- results:end -->'

# The grid: (group, activation, corruption ratio, dropout ratio, epochs) for 784 -> 100.
AUTOENCODERS = [
    ('activations', 'relu', .3, .1, 20),
    ('activations', 'sigmoid', .3, .1, 20),
    ('activations', 'tanh', .3, .1, 20),
    ('best', 'sigmoid', .3, .3, 10),
    ('epochs', 'sigmoid', .3, .3, 20),
    ('epochs', 'sigmoid', .3, .3, 30),
]
DEEP = [(100, 25), (784, 100)]  # sigmoid, noise .30, dropout .10, pretraining 20, fine-tuning 10
# The linear tied autoencoder: Adam from a learning rate of 3e-3, times 0.9 after every epoch
# (at a constant 1e-3 its test error stays about 3% above PCA's: the noise of the steps).
LINEAR_EPOCHS, LINEAR_ALPHA, LINEAR_DECAY = 40, 3e-3, .9
CONVERGED = dict(error=.005, overlap=.99)  # within 0.5% of PCA's test error, mean cos^2 >= .99
PLAIN_FINETUNE_EPOCHS = 100


# ---------------------------------------------------------------- measurements

def mse(a, b):
    return float(np.mean(np.square(a - b, dtype=np.float64)))


def probe(train_codes, test_codes, labels):
    """Accuracy on the test set of a logistic regression fitted on the training codes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    classifier.fit(train_codes, labels[0])
    return float(classifier.score(test_codes, labels[1]))


def codes(model, x):
    """The innermost code, in eval mode, as a NumPy array (x on the model's device)."""
    from autoencoder import inference
    from runner import HOST
    return HOST.send(inference(lambda batch: model(batch, hidden=True), x))


def save_pictures(model, name, out):
    """The weight pictures the scripts write (model.weight_pictures()); their file names."""
    from runner import HOST
    pictures = {name + suffix: rows for suffix, rows in model.weight_pictures().items()}
    for picture, rows in pictures.items():
        utils.save_images(HOST.send(rows), os.path.join(out, picture))
    return list(pictures)


def pca_baseline(k, data, labels):
    """Test MSE of PCA with k components (fitted on the training set; at most one per input)
    and the probe on its codes."""
    from sklearn.decomposition import PCA
    pca = PCA(min(k, data[0].shape[1]), random_state=0).fit(data[0])
    test_codes = pca.transform(data[1])
    return dict(kind='pca', k=k, components_used=pca.n_components_,
                test_mse=mse(pca.inverse_transform(test_codes), data[1]),
                probe=probe(pca.transform(data[0]), test_codes, labels),
                components=pca.components_)


def pixel_probe(data, labels):
    return dict(kind='pixels', probe=probe(data[0], data[1], labels))


# ---------------------------------------------------------------- the runs

def autoencoder_run(group, activate, corruption, dropout, epoch, data, labels, out, device,
                    tied=False, alpha=None, decay=1.):
    """One AutoEncoder 784 -> 100 (Adam, batch 100): its filters, errors and probe.

    alpha: Adam's learning rate (default Chainer's, 1e-3), multiplied by `decay` after every
    epoch; then the weights after every epoch are kept too."""
    import chainer

    import autoencoder as ae
    from runner import HOST
    t0 = time.perf_counter()
    model = ae.AutoEncoder(data[0].shape[1], 100, dropout_ratio=dropout, activate=activate,
                           tied=tied, seed=SEED_AE)
    optimizer = chainer.optimizers.Adam(**({} if alpha is None else dict(alpha=alpha)))
    trainer = ae.Train_AutoEncoder(data, model, corruption_ratio=corruption, rng=SEED_AE,
                                   optimizer=optimizer, device=device)
    history = []

    def after_epoch():
        optimizer.alpha *= decay
        if alpha is not None:
            history.append(HOST.send(model.encoder.W.array).copy())
    trainer.start(epoch, 100, log=None, after_epoch=after_epoch)
    name = trainer.condition_to_string()
    pictures = save_pictures(model, name, out)
    weights = HOST.send(model.encoder.W.array)
    return dict(kind='autoencoder', group=group, activate=activate, corruption=corruption,
                dropout=dropout, epoch=epoch, code=100, name=name, pictures=pictures,
                train_mse=trainer.loss_values[-1], test_mse=trainer.test_loss_values[-1],
                test_curve=trainer.test_loss_values, alpha=alpha, decay=decay,
                probe=probe(codes(model, trainer.train), codes(model, trainer.test), labels),
                weights=weights, weight_history=history, seconds=time.perf_counter() - t0)


def deep_run(group, sizes, corruption, dropout, pretrain, finetune, data, labels, out, device):
    """One DAE (sigmoid, Adam, batch 100), pretrained or not; pictures for group 'deep'."""
    import deep_autoencoder as da
    t0 = time.perf_counter()
    model = da.DAE(data[0].shape[1], sizes, activate='sigmoid', dropout_ratio=dropout,
                   corruption_ratio=corruption, seed=SEED_DAE)
    trainer = da.Train_DAE(data, model, corruption_ratio=corruption, optimizer='Adam',
                           rng=SEED_DAE, device=device)
    if pretrain:
        trainer.pre_training(pretrain, 100, log=None)
    trainer.fine_tuning(finetune, 100, log=None)
    name = ('DAE_' if pretrain else 'DAE_nopretrain_') + trainer.condition_to_string()
    return dict(kind='deep', group=group, sizes=list(sizes), corruption=corruption,
                dropout=dropout, pretrain=pretrain, finetune=finetune, code=sizes[-1],
                name=name, pictures=save_pictures(model, name, out) if group == 'deep' else [],
                train_mse=trainer.loss_values[-1], test_mse=trainer.test_loss_values[-1],
                test_curve=trainer.test_loss_values,
                probe=probe(codes(model, trainer.train), codes(model, trainer.test), labels),
                seconds=time.perf_counter() - t0)


def plural(n, noun):
    return f'{n} {noun}{"" if n == 1 else "s"}'


def job(i, n, label, fn, kwargs):
    """Run i of n in this process with one BLAS thread: the same numbers serial or parallel."""
    from threadpoolctl import threadpool_limits
    print(f'start {label} (run {i + 1} of {n})', flush=True)
    t0 = time.perf_counter()
    with threadpool_limits(1):
        result = fn(**kwargs)
    return i, label, time.perf_counter() - t0, result


def grid(quick):
    """Every run as (label, function, keyword arguments); quick divides the epochs by ten."""
    e = (lambda n: max(1, n // 10)) if quick else (lambda n: n)

    def ae(group, activate, corruption, dropout, epoch, **kw):
        return (f'{group}: {"tied " if kw.get("tied") else ""}autoencoder {activate}, noise '
                f'{corruption:.2f}, dropout {dropout:.2f}, {plural(e(epoch), "epoch")}', autoencoder_run,
                dict(group=group, activate=activate, corruption=corruption, dropout=dropout,
                     epoch=e(epoch), **kw))

    def deep(group, sizes, corruption, dropout, pretrain, finetune):
        pretrain = e(pretrain) if pretrain else 0
        return (f'{group}: DAE {sizes}, noise {corruption:.2f}, dropout {dropout:.2f}, '
                + (f'pretraining {plural(pretrain, "epoch")} a layer' if pretrain
                   else 'no pretraining') + f', fine-tuning {e(finetune)}', deep_run,
                dict(group=group, sizes=sizes, corruption=corruption, dropout=dropout,
                     pretrain=pretrain, finetune=e(finetune)))
    return ([ae(*run) for run in AUTOENCODERS]
            + [deep('deep', sizes, .3, .1, 20, 10) for sizes in DEEP]
            + [deep('pretraining', (100, 25), .3, .1, 0, 10),
               deep('pretraining', (100, 25), 0., 0., 20, PLAIN_FINETUNE_EPOCHS),
               deep('pretraining', (100, 25), 0., 0., 0, PLAIN_FINETUNE_EPOCHS),
               ae('linear', 'identity', 0., 0., LINEAR_EPOCHS, tied=True, alpha=LINEAR_ALPHA,
                  decay=LINEAR_DECAY)])


def run_all(data, labels, out, jobs, quick, device='@numpy'):
    """Every run and baseline, in --jobs processes; the results in the grid's order."""
    from joblib import Parallel, delayed
    tasks = [(label, fn, dict(kwargs, data=data, labels=labels, out=out, device=device))
             for label, fn, kwargs in grid(quick)]
    tasks += [(f'baseline: PCA-{k}', pca_baseline, dict(k=k, data=data, labels=labels))
              for k in (100, 25)]
    tasks += [('baseline: probe on the pixels', pixel_probe, dict(data=data, labels=labels))]
    results = [None] * len(tasks)
    runs = Parallel(n_jobs=jobs, return_as='generator_unordered')(
        delayed(job)(i, len(tasks), *task) for i, task in enumerate(tasks))
    for done, (i, label, seconds, result) in enumerate(runs, 1):
        results[i] = result
        print(f'done  {label}: {seconds:.0f} s; {plural(len(tasks) - done, "run")} left',
              flush=True)
    return results


# ---------------------------------------------------------------- the table

def subspace(weights, components):
    """Principal angles between the row spaces: mean cos^2 (1 = the same subspace), largest angle."""
    from scipy.linalg import subspace_angles
    angles = subspace_angles(weights.T.astype(np.float64), components.T.astype(np.float64))
    return float(np.mean(np.cos(angles) ** 2)), float(np.degrees(angles.max()))


def comparison(linear, pca):
    """Markdown lines: the linear tied autoencoder against PCA, epoch by epoch."""
    if pca['components_used'] < pca['k'] or pca['test_mse'] < 1e-12:
        return [f'With only {pca["components_used"]} inputs, PCA with {pca["components_used"]} '
                f'components reconstructs exactly: nothing to compare.']
    excess = [value / pca['test_mse'] - 1 for value in linear['test_curve']]
    angles = [subspace(w, pca['components']) for w in linear['weight_history']]
    converged = next((e for e, (x, (overlap, _)) in enumerate(zip(excess, angles), 1)
                      if x <= CONVERGED['error'] and overlap >= CONVERGED['overlap']), None)
    shown = sorted({1, *range(5, len(excess) + 1, 5), len(excess), converged or 1})
    lines = ['| epoch | test MSE | above PCA\'s | mean cos^2 of the principal angles '
             '| largest angle |', '| --- | --- | --- | --- | --- |']
    lines += [f'| {e}{" (converged)" if e == converged else ""} | '
              f'{linear["test_curve"][e - 1]:.5f} | {100 * excess[e - 1]:+.2f}% | '
              f'{angles[e - 1][0]:.4f} | {angles[e - 1][1]:.1f} degrees |' for e in shown]
    verdict = (f'It converged to PCA at epoch **{converged}**: from there its test error is within '
               if converged else f'It did not converge within {len(excess)} epochs to ')
    return [verdict + f'{100 * CONVERGED["error"]:.1f}% of PCA-{pca["k"]}\'s and the mean cos^2 of '
            f'the principal angles between the span of its 100 weight rows and PCA\'s 100 '
            f'components is at least {CONVERGED["overlap"]} (1 = the same subspace).', '', *lines]


def first_below(curve, level):
    return next((i for i, value in enumerate(curve, 1) if value < level), None)


def table(results, split, n_inputs, command, seconds, jobs, pictures_prefix=''):
    """The Markdown results: tables, then the pictures in the original's groups."""
    pca = {r['k']: r for r in results if r['kind'] == 'pca'}
    pixels = next(r for r in results if r['kind'] == 'pixels')
    k100, k25 = pca[100]['components_used'], pca[25]['components_used']
    runs = [r for r in results if r['kind'] in ('autoencoder', 'deep')]
    img = lambda name: f'<img src="{pictures_prefix}{name}" width="240">'  # noqa: E731
    f5 = lambda v: f'{v:.5f}'  # noqa: E731
    per_image = lambda v: f'{v * n_inputs:.2f}'  # noqa: E731
    pct = lambda v: f'{100 * v:.1f}%'  # noqa: E731
    (x_train, x_test), _ = split
    lines = [
        f'Produced by `{command}` ({seconds:.0f} s with --jobs {jobs}, '
        f'{platform.machine()}, {os.cpu_count()} cores, {time.strftime("%Y-%m-%d")}).',
        '',
        f'Data: **{split.name}** from `{split.source}`: {len(x_train) + len(x_test):,} images of '
        f'{n_inputs} pixels, split 75/25 by `train_test_split` (seed {SEED_SPLIT}) into '
        f'{len(x_train):,} training and {len(x_test):,} test images. Seeds: {SEED_AE} for the single '
        f'autoencoders, {SEED_DAE} for the deep ones. Errors are mean squared reconstruction errors '
        f'per pixel (pixels in [0, 1]) in eval mode (no noise, no dropout); "per image" is the '
        f'sum over the {n_inputs} pixels. Probe: accuracy on the test set of a logistic regression '
        f'fitted on the training set\'s codes (standardised); on the raw pixels it is '
        f'{pct(pixels["probe"])}.',
        '',
        f'### Single autoencoder, {n_inputs} -> 100 (Adam, batch 100)',
        '',
        '| group | activation | noise | dropout | epochs | train MSE | test MSE | test, per image '
        f'| PCA-{k100} test MSE | probe: code | probe: PCA-{k100} | seconds |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r in runs:
        if r['kind'] == 'autoencoder' and r['group'] != 'linear':
            lines.append(f'| {r["group"]} | {r["activate"]} | {r["corruption"]:.2f} | '
                         f'{r["dropout"]:.2f} | {r["epoch"]} | {f5(r["train_mse"])} | '
                         f'{f5(r["test_mse"])} | {per_image(r["test_mse"])} | '
                         f'{f5(pca[100]["test_mse"])} | {pct(r["probe"])} | '
                         f'{pct(pca[100]["probe"])} | {r["seconds"]:.1f} |')
    lines += [
        '',
        '### Deep autoencoder (sigmoid, Adam, batch 100)',
        '',
        '| hidden sizes | noise | dropout | pretraining epochs a layer | fine-tuning epochs '
        '| train MSE | test MSE | test, per image | PCA test MSE (k = code) | PCA, per image '
        '| probe: code | probe: PCA | seconds |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r in runs:
        if r.get('group') == 'deep':
            p = pca[r['code']]
            lines.append(f'| {tuple(r["sizes"])} | {r["corruption"]:.2f} | {r["dropout"]:.2f} | '
                         f'{r["pretrain"] or "none"} | {r["finetune"]} | {f5(r["train_mse"])} | '
                         f'{f5(r["test_mse"])} | {per_image(r["test_mse"])} | '
                         f'{f5(p["test_mse"])} (k = {p["components_used"]}) | {per_image(p["test_mse"])} | '
                         f'{pct(r["probe"])} | {pct(p["probe"])} | {r["seconds"]:.1f} |')
    plain = [r for r in runs if r['group'] == 'pretraining' and r['corruption'] == 0]
    level = pca[25]['test_mse']
    lines += [
        '',
        '### Does pretraining help? DAE (100, 25), same seed, same fine-tuning epochs',
        '',
        '| objective | pretraining epochs a layer | fine-tuning epochs | test MSE | test, per image '
        f'| first fine-tuning epoch below PCA-{k25} ({f5(level)}) | probe: code | seconds |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r in sorted((r for r in runs if r['kind'] == 'deep' and tuple(r['sizes']) == (100, 25)),
                    key=lambda r: (r['corruption'] == 0, -r['pretrain'])):
        objective = ('plain reconstruction (no noise, no dropout)' if r['corruption'] == 0
                     else f'the original\'s (noise {r["corruption"]:.2f}, dropout {r["dropout"]:.2f})')
        below = first_below(r['test_curve'], level)
        lines.append(f'| {objective} | {r["pretrain"] or "none"} | {r["finetune"]} | '
                     f'{f5(r["test_mse"])} | {per_image(r["test_mse"])} | '
                     f'{below or "not within " + str(r["finetune"])} | {pct(r["probe"])} | '
                     f'{r["seconds"]:.1f} |')
    if plain:
        lines += ['', f'For scale: Hinton & Salakhutdinov (Science 2006) report, per MNIST test image, '
                      f'3.00 for a 784-1000-500-250-30 deep autoencoder (RBM pretraining, 60,000 '
                      f'training images) against 13.87 for 30-component PCA. Here, with a 25-d code, '
                      f'PCA-{k25} gives {per_image(level)} per image.']
    linear = next(r for r in runs if r['group'] == 'linear')
    lines += [
        '',
        '### A linear tied autoencoder is PCA',
        '',
        f'{n_inputs} -> 100 -> {n_inputs} with the identity activation, decoder weight = encoder weight '
        f'transposed (own biases), no noise, no dropout, {linear["epoch"]} epochs of Adam with a '
        f'learning rate of {linear["alpha"]:g} multiplied by {linear["decay"]} after every epoch:',
        '',
        '| model | test MSE | test, per image |',
        '| --- | --- | --- |',
        f'| linear tied autoencoder, k = 100 | {f5(linear["test_mse"])} | {per_image(linear["test_mse"])} |',
        f'| PCA, k = {k100} | {f5(pca[100]["test_mse"])} | {per_image(pca[100]["test_mse"])} |',
        '',
        *comparison(linear, pca[100]),
        '',
        '### Pictures',
        '',
        'Encoder filters (rows of `encoder.W`), each tile stretched to its own range.',
        '',
    ]
    by_group = lambda g: [r for r in runs if r.get('group') == g and r['pictures']]  # noqa: E731
    activations, best = by_group('activations'), by_group('best') + by_group('epochs')
    deep = by_group('deep')
    for title, rows, label in (
            (f'Activations ({activations[0]["epoch"]} epochs, noise {activations[0]["corruption"]:.2f}, '
             f'dropout {activations[0]["dropout"]:.2f})', activations, 'activate'),
            (f'Epochs ({best[0]["activate"]}, noise {best[0]["corruption"]:.2f}, dropout '
             f'{best[0]["dropout"]:.2f})', best, 'epoch')):
        lines += [f'**{title}**', '', '| ' + ' | '.join(f'{label} = {r[label]}' for r in rows) + ' |',
                  '|' + ' --- |' * len(rows), '| ' + ' | '.join(img(r['pictures'][0]) for r in rows) + ' |', '']
    lines += [f'**Deep autoencoder (sigmoid, pretraining {deep[0]["pretrain"]} epochs a layer, '
              f'fine-tuning {deep[0]["finetune"]})**', '',
              '| hidden sizes | layer 1 (`l1.W`) | layer 2 (`l2.W`) | layer 2 in pixels (`l2.W @ l1.W`) |',
              '| --- | --- | --- | --- |']
    for r in deep:
        lines.append(f'| {tuple(r["sizes"])} | ' + ' | '.join(img(p) for p in r['pictures']) + ' |')
    return '\n'.join(lines) + '\n'


def write_readme_section(path, body):
    """Replace what lies between the results markers of README.md."""
    with open(path) as f:
        text = f.read()
    pattern = re.compile(re.escape(README_START) + '.*?' + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise ConfigError(f'{path} has no {README_START} ... {README_END} block to fill')
    with utils.atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(pattern.sub(lambda _: f'{README_START}\n{body}{README_END}', text))


# ---------------------------------------------------------------- command line

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--quick', action='store_true',
                   help='the same grid with a tenth of the epochs on the bundled 8x8 digits')
    p.add_argument('--jobs', type=int, default=1, help='runs in parallel processes')
    p.add_argument('--dataset', choices=utils.DATASETS, default=None,
                   help='default: digits with --quick, else auto (MNIST if available)')
    p.add_argument('--out', default=None,
                   help='default: figures/ for MNIST (and README.md is updated), '
                        'results/reproduce-<dataset>/ otherwise')
    p.add_argument('--device', default='@numpy',
                   help='a Chainer device for the training: @numpy (the CPU), @cupy:0 (a GPU)')
    p.error = lambda message: p.exit(2, f'{p.prog}: error: {message}\n')
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        utils.check_int('jobs', args.jobs)
        from runner import get_device
        get_device(args.device)
        split = utils.load_mnist(dataset=args.dataset or ('digits' if args.quick else 'auto'),
                                 seed=SEED_SPLIT)
        here = os.path.dirname(os.path.abspath(__file__))
        official = args.out is None and split.name == 'mnist' and not args.quick
        out = args.out or (os.path.join(here, 'figures') if official
                           else os.path.join('results', f'reproduce-{split.name}'))
        utils.check_writable_dir('out', out)
    except ConfigError as e:
        p.error(str(e))
    data, labels = split
    print(f'data: {split.name} from {split.source}; {len(grid(args.quick))} runs and 3 baselines '
          f'with --jobs {args.jobs}; pictures to {out}/')
    results = run_all(data, labels, out, args.jobs, args.quick, args.device)
    command = ' '.join(['python reproduce.py', *(argv if argv is not None else sys.argv[1:])])
    if split.name == 'mnist' and os.environ.get('MNIST_DIR'):
        command = f'MNIST_DIR={os.environ["MNIST_DIR"]} {command}'
    body = table(results, split, data[0].shape[1], command, time.perf_counter() - t0, args.jobs)
    with utils.atomic_path(os.path.join(out, 'README.md')) as tmp, open(tmp, 'w') as f:
        f.write('# Results\n\n' + body)
    print(f'wrote {os.path.join(out, "README.md")}')
    if official:
        write_readme_section(os.path.join(here, 'README.md'),
                             table(results, split, data[0].shape[1], command,
                                   time.perf_counter() - t0, args.jobs, pictures_prefix='figures/'))
        print('updated the Results section of README.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
