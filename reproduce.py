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

    MNIST_DIR=../shared/data/mnist python reproduce.py --experiment hinton --jobs 3   # hours

--experiment hinton, not part of the grid above: Hinton & Salakhutdinov's (Science 2006)
784-1000-500-250-30 autoencoder on MNIST's own 60,000/10,000 split, pretrained greedily
with denoising autoencoders and fine-tuned on the cross-entropy (HINTON below), the same
network from random initial weights, PCA-30, and a 784-1000-500-250-2 network for the
paper's Figure 3: a table beside the paper's 3.00 and 13.87, figures/hinton_*.png, and
the README's Hinton section. Resumable: rerun the same command.
"""
import argparse
import json
import os
import platform
import re
import sys
import time

import numpy as np

import utils
from utils import ConfigError

SEED_SPLIT, SEED_AE, SEED_DAE = 1, 1, 71
README_MARKERS = ('<!-- results:start -->', '<!-- results:end -->')
HINTON_MARKERS = ('<!-- hinton:start -->', '<!-- hinton:end -->')

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

# The experiment `--experiment hinton`: Hinton & Salakhutdinov's (Science 2006) MNIST
# autoencoder on MNIST's own split, with our greedy pretraining (stacked autoencoders).
PAPER = dict(deep=3.00, pca=13.87, pixels=784)  # their squared error per test image
HINTON = dict(
    sizes=(1000, 500, 250, 30),  # 784-1000-500-250-30, mirrored
    activate='sigmoid',          # their units are logistic ...
    code_activate='identity',    # ... but for the 30 linear code units
    loss='bce',                  # fine-tuned on the cross-entropy, as they did
    optimizer='Adam', lr=1e-3,   # (they used conjugate gradients)
    lr_decay=.987,               # the learning rate times this after every epoch (x0.1 in 180)
    dropout=0., corruption=0.,   # fine-tuning on plain reconstruction
    pretrain_corruption=.2,      # masking noise while pretraining (denoising autoencoders)
    pretrain=10,                 # pretraining epochs a layer
    finetune=180,                # fine-tuning epochs
    batchsize=100,
)
HINTON_2D = dict(HINTON, sizes=(1000, 500, 250, 2), finetune=50)  # Figure 3's codes


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


def pca_baseline(k, data, labels, shown=None):
    """Test MSE of PCA with k components (fitted on the training set; at most one per input)
    and the probe on its codes; with `shown` (test-set indices, the Hinton experiment), also
    the test set's codes and the reconstructions of those images."""
    from sklearn.decomposition import PCA
    pca = PCA(min(k, data[0].shape[1]), random_state=0).fit(data[0])
    test_codes = pca.transform(data[1])
    result = dict(kind='pca', k=k, components_used=pca.n_components_,
                  test_mse=mse(pca.inverse_transform(test_codes), data[1]),
                  probe=probe(pca.transform(data[0]), test_codes, labels),
                  components=pca.components_)
    if shown is not None:
        result.update(test_codes=test_codes,
                      reconstructions=pca.inverse_transform(test_codes[shown]))
    return result


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

    import runner
    runner.PROGRESS = False  # no progress lines from runs that share a terminal
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
    tasks = [(label, fn, dict(kwargs, data=data, labels=labels, out=out, device=device))
             for label, fn, kwargs in grid(quick)]
    tasks += [(f'baseline: PCA-{k}', pca_baseline, dict(k=k, data=data, labels=labels))
              for k in (100, 25)]
    tasks += [('baseline: probe on the pixels', pixel_probe, dict(data=data, labels=labels))]
    return run_tasks(tasks, jobs)


def run_tasks(tasks, jobs):
    """(label, function, keyword arguments) in --jobs processes; the results in their order."""
    from joblib import Parallel, delayed
    results = [None] * len(tasks)
    runs = Parallel(n_jobs=jobs, return_as='generator_unordered')(
        delayed(job)(i, len(tasks), *task) for i, task in enumerate(tasks))
    for done, (i, label, seconds, result) in enumerate(runs, 1):
        results[i] = result
        print(f'done  {label}: {seconds:.0f} s; {plural(len(tasks) - done, "run")} left',
              flush=True)
    return results


# ---------------------------------------------------------------- Hinton & Salakhutdinov's scale

def hinton_run(settings, pretraining, data, labels, out, device, pictures=False):
    """One network of the Hinton experiment (settings: HINTON or HINTON_2D), pretrained or from
    random initial weights. A snapshot after every epoch in OUT/snapshots/, and the result
    when done (<name>.pkl): the same command run again after an interruption continues where
    it stopped, and once all is done redraws the table and pictures without training (delete
    OUT/snapshots/ to train again). Prints a line an epoch."""
    import joblib
    import deep_autoencoder as da
    import runner
    h = settings
    model = da.DAE(data[0].shape[1], h['sizes'], activate=h['activate'],
                   dropout_ratio=h['dropout'], corruption_ratio=h['corruption'], seed=SEED_DAE,
                   code_activate=h['code_activate'],
                   output_activate='sigmoid' if h['loss'] == 'bce' else None)
    trainer = da.Train_DAE(data, model, corruption_ratio=h['corruption'],
                           optimizer=da.get_optimizer(h['optimizer'], h['lr']), rng=SEED_DAE,
                           device=device, loss=h['loss'], lr_decay=h['lr_decay'],
                           pretrain_corruption_ratio=h['pretrain_corruption'])
    name = (('DAE_' if pretraining else 'DAE_nopretrain_')
            + trainer.condition_to_string(h['finetune']))
    trainer.config = dict(script='reproduce.py', arguments=dict(h, pretraining=pretraining),
                          dataset=dict(n_train=len(data[0]), n_test=len(data[1])))
    tag = f'{"-".join(map(str, h["sizes"]))} {"pretrained" if pretraining else "random init"}'
    log = lambda line: print(f'{tag}: {line}', flush=True)  # noqa: E731

    def train(save):
        if pretraining and not trainer.pretrained:
            trainer.pre_training(h['pretrain'], h['batchsize'], log, after_epoch=save)
        trainer.fine_tuning(h['finetune'], h['batchsize'], log, after_epoch=save)
    snapshots = os.path.join(out, 'snapshots')
    os.makedirs(snapshots, exist_ok=True)
    path, done = (os.path.join(snapshots, name + suffix) for suffix in ('snapshot.npz', '.pkl'))
    config = json.loads(json.dumps(trainer.config))
    if os.path.exists(done):
        result = joblib.load(done)
        if result['config'] == config:
            print(f'{tag}: done before, the result read from {done}', flush=True)
            return dict(result, cached=True)
    resume = None
    if os.path.exists(path):
        made_with = runner.read_snapshot_config(path)
        if made_with == config:
            resume = path
        else:
            print(f'{tag}: {path} was made with other settings; starting afresh', flush=True)
    runner.train_with_snapshots(trainer, snapshots, name, resume, train)
    pretrain_seconds = sum(sum(t.seconds) for t in trainer.pretrainers)
    train_codes, test_codes = codes(model, trainer.train), codes(model, trainer.test)
    from autoencoder import inference
    from runner import HOST
    result = dict(kind='hinton', name=name, config=config, cached=False,
                  pretraining=pretraining, sizes=list(h['sizes']), code=h['sizes'][-1],
                  pretrain=h['pretrain'] if pretraining else 0, finetune=h['finetune'],
                  train_mse=trainer.loss_values[-1], test_mse=trainer.test_loss_values[-1],
                  train_curve=trainer.loss_values, test_curve=trainer.test_loss_values,
                  epoch_seconds=trainer.seconds,
                  pretrain_curves=[t.test_loss_values for t in trainer.pretrainers],
                  minutes=(pretrain_seconds + sum(trainer.seconds)) / 60,
                  probe=probe(train_codes, test_codes, labels), test_codes=test_codes,
                  reconstructions=HOST.send(inference(model, trainer.test[examples(labels)])),
                  pictures=save_pictures(model, name, out) if pictures else [])
    with utils.atomic_path(done) as tmp:
        joblib.dump(result, tmp)
    return result


def examples(labels):
    """The first test image of each class, in class order (the columns of Figure 2)."""
    return [int(np.flatnonzero(labels[1] == c)[0]) for c in np.unique(labels[1])]


def hinton_tasks(data, labels, out, device, quick):
    """(label, function, keyword arguments) of every run; quick: hidden layers a tenth as
    wide (the code as it is), 1 epoch of pretraining a layer and 2 of fine-tuning."""
    fast = ((lambda h: dict(h, sizes=(*(n // 10 for n in h['sizes'][:-1]), h['sizes'][-1]),
                            pretrain=1, finetune=2)) if quick else (lambda h: h))
    runs = [(HINTON, True), (HINTON, False), (HINTON_2D, True)]
    return ([(f'hinton: DAE {"-".join(map(str, (data[0].shape[1], *h["sizes"])))}, '
              + ('pretrained' if pretraining else 'random initial weights'), hinton_run,
              dict(settings=fast(h), pretraining=pretraining, data=data, labels=labels, out=out,
                   device=device, pictures=pretraining and h is HINTON))
             for h, pretraining in runs]
            + [(f'baseline: PCA-{k}', pca_baseline,
                dict(k=k, data=data, labels=labels, shown=examples(labels)))
               for k in (HINTON['sizes'][-1], HINTON_2D['sizes'][-1])])


def save_figure(fig, path):
    with utils.atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)


def hinton_pictures(results, data, labels, out):
    """Figure 2 (test images, their reconstructions), Figure 3 (2-D codes against the first two
    principal components) and the learning curves, into `out`; their file names."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    deep, random_init, deep2 = (r for r in results if r['kind'] == 'hinton')
    pca, pca2 = (r for r in results if r['kind'] == 'pca')
    n_inputs = data[1].shape[1]
    names = ['hinton_reconstructions.png', 'hinton_codes.png', 'hinton_curves.png']

    rows = [data[1][examples(labels)], deep['reconstructions'], random_init['reconstructions'],
            pca['reconstructions']]
    utils.save_images(np.clip(np.concatenate(rows), 0, 1), os.path.join(out, names[0]),
                      ncols=len(rows[0]), scale_each=False)

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6))
    for ax, codes_2d, title in ((axes[0], pca2['test_codes'], 'PCA: first two components'),
                                (axes[1], deep2['test_codes'],
                                 f'deep autoencoder {"-".join(map(str, [n_inputs, *deep2["sizes"]]))}')):
        points = ax.scatter(codes_2d[:, 0], codes_2d[:, 1], c=labels[1], cmap='tab10', s=2,
                            vmin=-.5, vmax=9.5, rasterized=True)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(points, ax=axes, ticks=range(10), label='digit')
    save_figure(fig, os.path.join(out, names[1]))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5))
    for r, label in ((deep, 'pretrained'), (random_init, 'random initial weights')):
        epochs = np.arange(1, len(r['test_curve']) + 1)
        ax.plot(epochs, np.asarray(r['test_curve']) * n_inputs, label=f'{label}, test')
        ax.plot(epochs, np.asarray(r['train_curve']) * n_inputs, ':', label=f'{label}, train')
    ax.axhline(PAPER['deep'], color='k', lw=.8, ls='--', label=f'paper: {PAPER["deep"]:.2f}')
    ax.axhline(pca['test_mse'] * n_inputs, color='grey', lw=.8,
               label=f'PCA-{pca["k"]}, this split')
    ax.set_yscale('log')
    ax.set_xlabel('fine-tuning epoch')
    ax.set_ylabel('squared error per image (eval mode)')
    ax.legend()
    save_figure(fig, os.path.join(out, names[2]))
    plt.close(fig)
    return names


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


def machine():
    """The processor's model name (Linux), else its architecture, and the number of cores."""
    try:
        with open('/proc/cpuinfo') as f:
            name = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        name = platform.machine()
    return f'{name}, {os.cpu_count()} cores'


def hinton_table(results, split, command, seconds, jobs, pictures, pictures_prefix=''):
    """The Markdown of the Hinton experiment: the table beside the paper's, then the pictures."""
    (x_train, x_test), _ = split
    n_inputs, h = x_train.shape[1], HINTON
    deep, random_init, deep2 = (r for r in results if r['kind'] == 'hinton')
    pca, pca2 = (r for r in results if r['kind'] == 'pca')
    cached = sum(r['cached'] for r in (deep, random_init, deep2))
    f5 = lambda v: f'{v:.5f}'  # noqa: E731
    goal = PAPER['deep'] / PAPER['pixels']  # the paper's error, per pixel
    how = ("MNIST's own split" if len(x_train) == utils.MNIST_SIZES[0]
           else f'a random 75/25 split (seed {SEED_SPLIT})')
    lines = [
        f'Produced by `{command}` ({plural(round(seconds / 60), "minute")} with --jobs {jobs}'
        + (f', the {plural(cached, "network")} trained before read from their results'
           if cached else '') + f'; {machine()}, {time.strftime("%Y-%m-%d")}).',
        '',
        f'Data: **{split.name}** from `{split.source}`, {how}: {len(x_train):,} training and '
        f'{len(x_test):,} test images of {n_inputs} pixels in [0, 1]. Errors: squared '
        f'reconstruction error on the test set in eval mode, per pixel and per image (the sum '
        f'over the {n_inputs} pixels, the paper\'s measure). Network {n_inputs}-'
        f'{"-".join(map(str, deep["sizes"]))}, {h["activate"]} units but {h["code_activate"]} code '
        f'units, trained on {h["loss"]} with {h["optimizer"]} (learning rate {h["lr"]:g}, times '
        f'{h["lr_decay"]:g} after every epoch), batch {h["batchsize"]}, seed {SEED_DAE}; '
        f'pretraining: one denoising autoencoder a layer (masking noise '
        f'{h["pretrain_corruption"]:.2f}), fine-tuning: no noise, no dropout. Probe: accuracy on '
        f'the test set of a logistic regression fitted on the training set\'s codes. Times '
        f'(pretraining and fine-tuning, with the evaluation after every epoch) are those of each '
        f'network\'s own process'
        + (f', {jobs} of them sharing the {os.cpu_count()} cores.' if jobs > 1 else '.')
        + ('' if n_inputs == PAPER['pixels'] else f' Not comparable with the paper\'s numbers: '
           f'these images have {n_inputs} pixels, the paper\'s {PAPER["pixels"]}.'),
        '',
        '| model | test error per pixel | per image | pretraining epochs a layer '
        '| fine-tuning epochs | first epoch at or below 3.00 | minutes of training (wall time) | seconds a '
        'fine-tuning epoch (median) | probe: code |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        f'| Hinton & Salakhutdinov 2006: deep autoencoder (RBMs, conjugate gradients) '
        f'| {f5(goal)} | **{PAPER["deep"]:.2f}** | | | | | | |',
        f'| Hinton & Salakhutdinov 2006: PCA-30 | {f5(PAPER["pca"] / PAPER["pixels"])} '
        f'| {PAPER["pca"]:.2f} | | | | | | |',
    ]

    for r, label in ((deep, 'deep autoencoder, pretrained'),
                     (random_init, 'deep autoencoder, random initial weights'),
                     (deep2, f'deep autoencoder with a {deep2["code"]}-d code, pretrained')):
        below = next((e for e, v in enumerate(r['test_curve'], 1) if v <= goal), None)
        lines.append(f'| **ours**: {label} | {f5(r["test_mse"])} | '
                     f'**{r["test_mse"] * n_inputs:.2f}** | {r["pretrain"] or "none"} | '
                     f'{r["finetune"]} | {below or "not reached"} | {r["minutes"]:.0f} | '
                     f'{np.median(r["epoch_seconds"]):.1f} | {100 * r["probe"]:.1f}% |')
    for p in (pca, pca2):
        lines.append(f'| ours: PCA-{p["k"]} | {f5(p["test_mse"])} | {p["test_mse"] * n_inputs:.2f} '
                     f'| | | | | | {100 * p["probe"]:.1f}% |')
    img = lambda name, width: f'<img src="{pictures_prefix}{name}" width="{width}">'  # noqa: E731
    recon, codes_2d, curves = pictures
    lines += [
        '',
        f'Learning curves (squared error per image, log scale; fine-tuning epochs):',
        '', img(curves, 560), '',
        'Figure 2 as in the paper: the first test image of each class (top row), the '
        'reconstructions of the pretrained deep autoencoder, of the same network from random '
        f'initial weights, and of PCA-{pca["k"]} (bottom row).',
        '', img(recon, 560), '',
        f'Figure 3 as in the paper: the test set by the first two principal components (left) '
        f'and by the codes of the {n_inputs}-{"-".join(map(str, deep2["sizes"]))} autoencoder '
        f'(right, pretrained, {deep2["finetune"]} fine-tuning epochs), coloured by class.',
        '', img(codes_2d, 760), '',
    ]
    if deep['pictures']:
        lines += ['First-layer filters of the pretrained network (rows of `l1.W`):', '',
                  img(deep['pictures'][0], 480), '']
    return '\n'.join(lines)


def hinton(split, out, jobs, quick, device, command, official, here):
    """The --experiment hinton: its runs, pictures, figures/hinton.md, the README block."""
    data, labels = split
    tasks = hinton_tasks(data, labels, out, device, quick)
    print(f'data: {split.name} from {split.source}; {len(tasks)} runs with --jobs {jobs}; '
          f'pictures to {out}/')
    t0 = time.perf_counter()
    results = run_tasks(tasks, jobs)
    pictures = hinton_pictures(results, data, labels, out)
    seconds = time.perf_counter() - t0
    with utils.atomic_path(os.path.join(out, 'hinton.md')) as tmp, open(tmp, 'w') as f:
        f.write('# Hinton & Salakhutdinov\'s deep autoencoder\n\n'
                + hinton_table(results, split, command, seconds, jobs, pictures) + '\n')
    print(f'wrote {os.path.join(out, "hinton.md")}')
    if official:
        write_readme_section(os.path.join(here, 'README.md'),
                             hinton_table(results, split, command, seconds, jobs, pictures,
                                          pictures_prefix='figures/') + '\n', HINTON_MARKERS)
        print('updated the Hinton section of README.md')
    return results


def write_readme_section(path, body, markers=README_MARKERS):
    """Replace what lies between the two markers of README.md."""
    start, end = markers
    with open(path) as f:
        text = f.read()
    pattern = re.compile(re.escape(start) + '.*?' + re.escape(end), re.S)
    if not pattern.search(text):
        raise ConfigError(f'{path} has no {start} ... {end} block to fill')
    with utils.atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(pattern.sub(lambda _: f'{start}\n{body}{end}', text))


# ---------------------------------------------------------------- command line

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--experiment', choices=('original', 'hinton'), default='original',
                   help="original: the original's grid and our additions (about 15 minutes); "
                        "hinton: Hinton & Salakhutdinov's 784-1000-500-250-30 on MNIST's own "
                        "split (hours; resumable: rerun the same command)")
    p.add_argument('--quick', action='store_true',
                   help='the same runs with a tenth of the epochs on the bundled 8x8 digits '
                        '(hinton: 1 and 2 epochs, on a random split)')
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
        dataset = args.dataset or ('digits' if args.quick else 'auto')
        split = utils.load_mnist(dataset=dataset, seed=SEED_SPLIT, split='official' if (
            args.experiment == 'hinton' and dataset != 'digits') else 'random')
        here = os.path.dirname(os.path.abspath(__file__))
        official = args.out is None and split.name == 'mnist' and not args.quick
        out = args.out or (os.path.join(here, 'figures') if official
                           else os.path.join('results', f'reproduce-{split.name}'))
        utils.check_writable_dir('out', out)
    except ConfigError as e:
        p.error(str(e))
    data, labels = split
    command = ' '.join(['python reproduce.py', *(argv if argv is not None else sys.argv[1:])])
    if split.name == 'mnist' and os.environ.get('MNIST_DIR'):
        command = f'MNIST_DIR={os.environ["MNIST_DIR"]} {command}'
    if args.experiment == 'hinton':
        hinton(split, out, args.jobs, args.quick, args.device, command, official, here)
        return 0
    print(f'data: {split.name} from {split.source}; {len(grid(args.quick))} runs and 3 baselines '
          f'with --jobs {args.jobs}; pictures to {out}/')
    results = run_all(data, labels, out, args.jobs, args.quick, args.device)
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
