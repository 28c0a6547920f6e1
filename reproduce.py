"""Re-run the original write-up's experiments into figures/, and answer what it could not.

    MNIST_DIR=~/data/mnist python reproduce.py --jobs 2   # the committed figures/
    python reproduce.py --quick                          # the same grid, tiny, on digits

The original's experiments (see the README), Adam, batch 100:
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
               trained with a decaying learning rate until it converges to PCA with k = 100
  pretraining  DAE (100, 25) with and without pretraining, same epochs and seed: with the
               original's settings, and on plain reconstruction (no noise, no dropout)
               fine-tuned until it beats PCA with 25 components

Every row is a command: reproduce.py runs `python autoencoder.py ...` or `python
deep_autoencoder.py ...` with the row's options (the rest are the scripts' HYPERPARAMETERS),
each on one BLAS thread so that the numbers do not depend on --jobs, and writes that command
beside the row. The runs go where the commands put them (results/<dataset>/, or RUNS with
--runs); a run that finished before with the same arguments is read back instead of trained
again (--retrain trains it anew), and an interrupted one continues from its snapshot. The
script measures the PCA baselines and the probes, copies the weight pictures to figures/,
records what it computed in figures/results.json and writes the page figures/README.md, and
the results in brief into README.md and README.ja.md: the pages' words and layout are Jinja2
templates (templates/*.j2); the code computes, they say.
A line is printed as each run starts and as it ends.

    MNIST_DIR=~/data/mnist python reproduce.py --experiment hinton --jobs 3   # hours

--experiment hinton, not part of the grid above: Hinton & Salakhutdinov's (Science 2006)
784-1000-500-250-30 autoencoder on MNIST's own 60,000/10,000 split, pretrained greedily
with denoising autoencoders and fine-tuned on the cross-entropy (HINTON below), the same
network from random initial weights, PCA-30, and a 784-1000-500-250-2 network for the
paper's Figure 3: a table beside the paper's 3.00 and 13.87, figures/hinton_*.png,
figures/hinton.md and figures/hinton.json. Beyond the paper, chosen on a
validation split (MNIST's first 50,000 training images; its last 10,000 to validate): a
regulariser for the pretrained network (REGULARISERS), and the learning rate of Sutskever et
al.'s (2013) recipe without pretraining (SPARSE_NESTEROV, LEARNING_RATES); each choice is
then trained on MNIST's own split and tested once. Resumable: rerun the same command.
"""
import argparse
import concurrent.futures
import os
import platform
import signal
import sys
import threading
import time

import numpy as np

import chainer_compat
import utils
from runs import (AE, DEEP, ROOT, WriteFailed, apart, codes, command_line, copy_pictures, load_run,
                  computed_on, probe, say, script_module, script_run, seconds_of, spread,
                  stop_processes)
from utils import ConfigError

README_MARKERS = ('<!-- results:start -->', '<!-- results:end -->')

# The grid, as the options of autoencoder.py (AE) or deep_autoencoder.py (DEEP) of each row;
# the options a row does not name are the scripts' HYPERPARAMETERS.
SINGLE = dict(optimizer='Adam', n_hidden=100)  # the original's figures were made with Adam
AUTOENCODERS = [  # (group, options)
    ('activations', dict(SINGLE, activate='relu', corruption_ratio=.3, dropout_ratio=.1, epoch=20)),
    ('activations', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.1, epoch=20)),
    ('activations', dict(SINGLE, activate='tanh', corruption_ratio=.3, dropout_ratio=.1, epoch=20)),
    ('best', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.3, epoch=10)),
    ('epochs', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.3, epoch=20)),
    ('epochs', dict(SINGLE, activate='sigmoid', corruption_ratio=.3, dropout_ratio=.3, epoch=30)),
]
STACKED = dict(activate='sigmoid', optimizer='Adam', corruption_ratio=.3, dropout_ratio=.1,
               pretrain_epoch=20, finetune_epoch=10)  # the original's deep experiment
PLAIN = dict(corruption_ratio=0., dropout_ratio=0., finetune_epoch=100)  # no noise, no dropout
DEEP_RUNS = [
    ('deep', dict(STACKED, n_hidden_layers=[100, 25])),
    ('deep', dict(STACKED, n_hidden_layers=[784, 100])),
    ('pretraining', dict(STACKED, n_hidden_layers=[100, 25], no_pretraining=True)),
    ('pretraining', dict(STACKED, n_hidden_layers=[100, 25], **PLAIN)),
    ('pretraining', dict(STACKED, n_hidden_layers=[100, 25], **PLAIN, no_pretraining=True)),
]
# The linear tied autoencoder: Adam from a learning rate of 3e-3, times 0.9 after every epoch
# (at a constant 1e-3 its test error stays about 3% above PCA's: the noise of the steps).
LINEAR = ('linear', dict(SINGLE, activate='identity', tied=True, corruption_ratio=0.,
                         dropout_ratio=0., lr=3e-3, lr_decay=.9, epoch=40))
MAKE_RUN = ('make run', {})  # autoencoder.py as `make run` runs it: its HYPERPARAMETERS, AdaDelta
CONVERGED = .005  # within 0.5% of PCA's test error
SEEDS = 5  # every row with its script's own seed (today's names and pictures) and the next four

# The experiment `--experiment hinton`: Hinton & Salakhutdinov's (Science 2006) MNIST
# autoencoder on MNIST's own split, with our greedy pretraining (stacked autoencoders).
PAPER = dict(deep=3.00, pca=13.87, pixels=784)  # their squared error per test image
HINTON = dict(
    split='official',                    # MNIST's own 60,000 / 10,000
    n_hidden_layers=[1000, 500, 250, 30],  # 784-1000-500-250-30, mirrored
    activate='sigmoid',                  # their units are logistic ...
    code_activate='identity',            # ... but for the 30 linear code units
    loss='bce',                          # fine-tuned on the cross-entropy, as they did
    optimizer='Adam', lr=1e-3,           # (they used conjugate gradients)
    lr_decay=.987,                       # the learning rate times this after every epoch
    dropout_ratio=0., corruption_ratio=0.,  # fine-tuning on plain reconstruction
    pretrain_corruption_ratio=.2,        # masking noise while pretraining (denoising)
    pretrain_epoch=10,                   # pretraining epochs a layer
    finetune_epoch=180,                  # fine-tuning epochs
)
HINTON_RUNS = [  # (role, label, options)
    ('pretrained', 'deep autoencoder, pretrained', HINTON),
    ('random', 'deep autoencoder, random initial weights', dict(HINTON, no_pretraining=True)),
    ('code2', 'deep autoencoder with a 2-d code, pretrained',  # Figure 3's codes
     dict(HINTON, n_hidden_layers=[1000, 500, 250, 2], finetune_epoch=50)),
]
GOAL = 2.50  # squared error per test image we aim at, a sixth below the paper's 3.00

# Choices made without the test set: on split='validation' (MNIST's first 50,000 training
# images to train on, its last 10,000 to validate; its test set unused), each candidate run
# as long as the network it chooses for; the lowest validation error after the last epoch
# wins, and that setting alone is then trained on MNIST's own split and tested once.
VALIDATION = dict(HINTON, split='validation')
REGULARISERS = [  # (label, options): the pretrained network, one regulariser at a time
    ('none', VALIDATION),
    ('masking noise 0.1 while fine-tuning', dict(VALIDATION, corruption_ratio=.1)),
    # The loss is a mean over pixels: Sutskever et al.'s 1e-5 (on a sum over pixels) would be
    # 1.3e-8 here, far below the data's pull. Sized instead from Adam's first moment in the
    # unregularised run (fine-tuning epoch 100): 3e-7 times the median first-layer weight is
    # about two thirds of that layer's median mean gradient, a tenth of the next layers'.
    ('weight decay 3e-7', dict(VALIDATION, weight_decay=3e-7)),
    # Stronger: twice layer 1's median mean gradient, a third to four fifths of the next ones'.
    ('weight decay 1e-6', dict(VALIDATION, weight_decay=1e-6)),
    ('dropout 0.1 on every hidden layer', dict(VALIDATION, dropout_ratio=.1)),
]
# Sutskever, Martens, Dahl & Hinton (2013): no pretraining; sparse initial weights, Nesterov's
# momentum raised towards 0.99, batch 200, a constant learning rate. Ours is chosen among
# these after a few epochs on the validation split (a mean over pixels: ~784 times theirs).
SPARSE_NESTEROV = dict(HINTON, no_pretraining=True, init='sparse', optimizer='NesterovAG',
                       momentum_max=.99, batchsize=200, lr_decay=1.)
LEARNING_RATES = (.3, 1., 3., 10., 30.)
SCREENING_EPOCHS = 8
# `--experiment hinton-seeds`: the two rows the findings rest on over seeds 71, 72, 73, on one
# stack (the table's seed-71 rows were made on NumPy 1.26.4); weight decay 3e-7 is the
# regulariser the validation split chose (figures/hinton.md).
SEEDED_ROWS = [  # (role, label, options)
    ('pretrained', 'pretrained', HINTON),
    ('regularised', 'pretrained, weight decay 3e-7', dict(HINTON, weight_decay=3e-7)),
]
HINTON_SEEDS = 3


# ---------------------------------------------------------------- measurements

def mse(a, b):
    return float(np.mean(np.square(a - b, dtype=np.float64)))


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
                  components=pca.components_, variances=pca.explained_variance_)
    if shown is not None:
        result.update(test_codes=test_codes,
                      reconstructions=pca.inverse_transform(test_codes[shown]))
    return result


def pixel_probe(data, labels):
    return dict(kind='pixels', probe=probe(data[0], data[1], labels))


def grid_row(group, script, options, data, labels, dataset, runs, out, retrain, row=0):
    """One run of a row of the grid: its errors and probe, its pictures (for the script's own
    seed: the others differ only by --seed)."""
    run = script_run(script, options, dataset, runs, retrain)
    model = load_run(run, script, data[0].shape[1])
    record, a = run['record'], run['record']['arguments']
    result = dict(group=group, command=run['command'], name=run['name'],
                  corruption=a['corruption_ratio'], dropout=a['dropout_ratio'],
                  activate=a['activate'], train_mse=record['loss_values'][-1],
                  test_mse=record['test_loss_values'][-1], test_curve=record['test_loss_values'],
                  probe=probe(codes(model, data[0]), codes(model, data[1]), labels),
                  seconds=seconds_of(record), cached=run['cached'], split_seed=a['split_seed'],
                  row=row, seed=a['seed'])
    shown = group in ('activations', 'best', 'epochs', 'deep', 'make run') and 'seed' not in options
    pictures = copy_pictures(run, [*model.weight_pictures(), *(
        ['reconstruction.png'] if group == 'make run' else [])], out) if shown else []
    if script == AE:
        return dict(result, kind='autoencoder', epoch=a['epoch'], code=a['n_hidden'],
                    optimizer=a['optimizer'],
                    alpha=a['lr'], decay=a['lr_decay'], pictures=pictures,
                    weights=np.asarray(model.encoder.W.array))
    sizes = a['n_hidden_layers']
    return dict(result, kind='deep', sizes=list(sizes), code=sizes[-1],
                pretrain=0 if a['no_pretraining'] else a['pretrain_epoch'],
                finetune=a['finetune_epoch'], pictures=pictures)


def quick_options(options):
    """The same row with a tenth of the epochs (at least one)."""
    return {k: max(1, v // 10) if k in ('epoch', 'pretrain_epoch', 'finetune_epoch') else v
            for k, v in options.items()}


def grid(quick, n_seeds=SEEDS):
    """Every run as (label, group, script, options, row): each row of the grid with its
    script's own seed and the next n_seeds - 1 (named only where not the script's own);
    quick: a tenth of the epochs."""
    rows = [(group, AE, o) for group, o in AUTOENCODERS] + [
        (group, DEEP, o) for group, o in DEEP_RUNS] + [(LINEAR[0], AE, LINEAR[1]),
                                                       (MAKE_RUN[0], AE, MAKE_RUN[1])]
    fast = quick_options if quick else (lambda o: o)
    runs = []
    for row, (group, script, options) in enumerate(rows):
        _, *others = seeds(script, n_seeds)
        for o in map(fast, [options, *(dict(options, seed=seed) for seed in others)]):
            typed = ' '.join(command_line(script, o, '')[3:]) or 'its defaults'
            runs.append((f'{group}: {typed}', group, script, o, row))
    return runs


def seeds(script, n):
    """The script's own seed and the n - 1 after it."""
    first = script_module(script).HYPERPARAMETERS['seed']
    return list(range(first, first + n))


def plural(n, noun):
    return f'{n} {noun}{"" if n == 1 else "s"}'


def run_tasks(tasks, jobs):
    """(label, function, keyword arguments) in --jobs threads (each run is a process of its
    own); the results in their order. A line as each starts and ends."""
    results, n, left, lock = [None] * len(tasks), len(tasks), [len(tasks)], threading.Lock()

    def task(i):
        label, fn, kwargs = tasks[i]
        say(f'start {label} (run {i + 1} of {n})')
        t0 = time.perf_counter()
        results[i] = fn(**kwargs)
        with lock:  # said here, before this thread starts another task
            left[0] -= 1
            say(f'done  {label}: {time.perf_counter() - t0:.0f} s; {plural(left[0], "run")} left')
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(task, i) for i in range(n)]
        try:
            for future in concurrent.futures.as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            stop_processes()
            raise
    return results


def run_all(data, labels, dataset, runs, out, jobs, quick, retrain, device, n_seeds=SEEDS):
    """Every run of the grid and the baselines, in --jobs threads; the results in the grid's
    order."""
    tasks = [(label, grid_row, dict(group=group, script=script, options=dict(options, **device),
                                    data=data, labels=labels, dataset=dataset, runs=runs,
                                    out=out, retrain=retrain, row=row))
             for label, group, script, options, row in grid(quick, n_seeds)]
    tasks += [(f'baseline: PCA-{k}', pca_baseline, dict(k=k, data=data, labels=labels))
              for k in (100, 25)]
    tasks += [('baseline: probe on the pixels', pixel_probe, dict(data=data, labels=labels))]
    return run_tasks(tasks, jobs)


# ---------------------------------------------------------------- Hinton & Salakhutdinov's scale

def hinton_row(role, label, options, data, labels, dataset, runs, out, retrain, pictures=False):
    """One network of the Hinton experiment: its run (printed line by line), its errors,
    probe, test codes, reconstructions of the examples and, with `pictures`, its filters."""
    sizes = options['n_hidden_layers']
    tag = f'{"-".join(map(str, sizes))} {"random init" if options.get("no_pretraining") else "pretrained"}'
    run = script_run(DEEP, options, dataset, runs, retrain, tag=tag)
    model = load_run(run, DEEP, data[0].shape[1])
    from autoencoder import inference
    record, a = run['record'], run['record']['arguments']
    test_codes = codes(model, data[1])
    return dict(kind='hinton', role=role, label=label, command=run['command'], name=run['name'],
                cached=run['cached'], pretraining=not a['no_pretraining'], sizes=list(sizes),
                code=sizes[-1], pretrain=0 if a['no_pretraining'] else a['pretrain_epoch'],
                finetune=a['finetune_epoch'], train_mse=record['loss_values'][-1],
                test_mse=record['test_loss_values'][-1], train_curve=record['loss_values'],
                test_curve=record['test_loss_values'], updates=updates(record, a),
                epoch_seconds=record['seconds_per_epoch'], seconds=seconds_of(record),
                probe=probe(codes(model, data[0]), test_codes, labels), test_codes=test_codes,
                reconstructions=inference(model, data[1][examples(labels)]),
                pictures=copy_pictures(run, model.weight_pictures(), out) if pictures else [],
                arguments=a, seed=a['seed'], computed_on=computed_on(record))


def examples(labels):
    """The first test image of each class, in class order (the columns of Figure 2)."""
    return [int(np.flatnonzero(labels[1] == c)[0]) for c in np.unique(labels[1])]


def validation_row(group, label, options, dataset, runs, retrain):
    """A candidate on the validation split: its errors after every epoch and its command."""
    run = script_run(DEEP, options, dataset, runs, retrain, tag=f'validation, {group}: {label}')
    record = run['record']
    return dict(kind='validation', group=group, label=label, options=options,
                command=run['command'], name=run['name'], cached=run['cached'],
                curve=record['test_loss_values'], train=record['loss_values'][-1],
                error=record['test_loss_values'][-1], seconds=seconds_of(record))


def updates(record, a):
    """Fine-tuning updates: minibatches an epoch times epochs."""
    n_train = record['dataset']['n_train']
    return -(-n_train // a['batchsize']) * a['finetune_epoch']


def hinton_options(options, quick):
    """quick: hidden layers a tenth as wide (the code as it is), 1 epoch of pretraining a
    layer and 2 of fine-tuning, on a random split (the digits have no split of their own;
    the validation runs on another random split)."""
    if not quick:
        return options
    sizes = options['n_hidden_layers']
    return dict(options, n_hidden_layers=[*(n // 10 for n in sizes[:-1]), sizes[-1]],
                pretrain_epoch=1, finetune_epoch=min(2, options['finetune_epoch']),
                split='random', **(dict(split_seed=2) if options['split'] == 'validation' else {}))


def candidates():
    """(group, label, options) of the validation runs: the regularisers, the learning rates."""
    return ([('regulariser', label, options) for label, options in REGULARISERS]
            + [('learning rate', f'{lr:g}',
                dict(SPARSE_NESTEROV, split='validation', lr=lr, finetune_epoch=SCREENING_EPOCHS))
               for lr in LEARNING_RATES])


def hinton_tasks(data, labels, dataset, runs, out, quick, retrain, device):
    """(label, function, keyword arguments) of every run and baseline, and of the validation
    runs; `device`: {} or {'device': name}, added to every run's options."""
    codes_sizes = [options['n_hidden_layers'][-1] for _, _, options in HINTON_RUNS]
    return ([net_task(role, label, options, data, labels, dataset, runs, out, quick, retrain,
                      device) for role, label, options in HINTON_RUNS]
            + [(f'validation, {group}: {label}', validation_row,
                dict(group=group, label=label, dataset=dataset, runs=runs, retrain=retrain,
                     options=dict(hinton_options(options, quick), **device)))
               for group, label, options in candidates()]
            + [(f'baseline: PCA-{k}', pca_baseline,
                dict(k=k, data=data, labels=labels, shown=examples(labels)))
               for k in sorted(set(codes_sizes), reverse=True)])


def net_task(role, label, options, data, labels, dataset, runs, out, quick, retrain, device):
    """The task of one network of the Hinton table (the pretrained one draws its filters)."""
    return (f'hinton: {label}', hinton_row,
            dict(role=role, label=label, options=dict(hinton_options(options, quick), **device),
                 data=data, labels=labels, dataset=dataset, runs=runs, out=out, retrain=retrain,
                 pictures=role == 'pretrained'))


def chosen(results, group):
    """The validation run of `group` with the lowest validation error after its last epoch
    (a run that diverged to NaN is never chosen)."""
    runs = [r for r in results if r['kind'] == 'validation' and r['group'] == group]
    return min(runs, key=lambda r: r['error'] if np.isfinite(r['error']) else np.inf)


def chosen_tasks(results, data, labels, dataset, runs, out, quick, retrain, device):
    """The settings chosen on the validation split, trained on the Hinton rows' split: the
    pretrained network with the best regulariser (none if none beat plain training), and
    Sutskever et al.'s recipe with the best learning rate, for as many fine-tuning epochs as
    the pretrained network."""
    regulariser = chosen(results, 'regulariser')
    lr = chosen(results, 'learning rate')['options']['lr']
    rows = [('sparse', 'deep autoencoder, sparse initial weights, Nesterov momentum',
             dict(SPARSE_NESTEROV, lr=lr))]
    if regulariser['label'] != REGULARISERS[0][0]:
        options = dict(REGULARISERS)[regulariser['label']]
        rows.insert(0, ('regularised', f'deep autoencoder, pretrained, {regulariser["label"]}',
                        dict(options, split=HINTON['split'])))
    return [net_task(role, label, options, data, labels, dataset, runs, out, quick, retrain,
                     device) for role, label, options in rows]


CURVES = [  # (role, legend) of the learning curves drawn, in order
    ('pretrained', 'pretrained'),
    ('regularised', 'pretrained, regularised'),
    ('random', 'random (LeCun normal), Adam'),
    ('sparse', 'random (sparse), Nesterov'),
]


def save_figure(fig, path):
    with utils.atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)


def hinton_pictures(results, data, labels, out):
    """Figure 2 (test images, their reconstructions), Figure 3 (2-D codes against the first two
    principal components) and the learning curves, into `out`; their file names."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    nets = {r['role']: r for r in results if r['kind'] == 'hinton'}
    deep, random_init, deep2 = nets['pretrained'], nets['random'], nets['code2']
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
    for role, label in CURVES:
        if role not in nets:
            continue
        r = nets[role]
        epochs = np.arange(1, len(r['test_curve']) + 1)
        line, = ax.plot(epochs, np.asarray(r['test_curve']) * n_inputs, label=f'{label}, test')
        ax.plot(epochs, np.asarray(r['train_curve']) * n_inputs, ':', color=line.get_color(),
                label=f'{label}, train')
    ax.axhline(PAPER['deep'], color='k', lw=.8, ls='--', label=f'paper: {PAPER["deep"]:.2f}')
    ax.axhline(GOAL, color='k', lw=.8, ls=':', label=f'goal: {GOAL:.2f}')
    ax.axhline(pca['test_mse'] * n_inputs, color='grey', lw=.8,
               label=f'PCA-{pca["k"]}, this split')
    ax.set_yscale('log')
    ax.set_xlabel('fine-tuning epoch')
    ax.set_ylabel('squared error per image (eval mode)')
    ax.legend(fontsize='small')
    save_figure(fig, os.path.join(out, names[2]))
    plt.close(fig)
    return names


# ---------------------------------------------------------------- the tables

def subspace(weights, components):
    """Principal angles between the row spaces: mean cos^2 (1 = the same subspace), largest angle."""
    from scipy.linalg import subspace_angles
    angles = subspace_angles(weights.T.astype(np.float64), components.T.astype(np.float64))
    return float(np.mean(np.cos(angles) ** 2)), float(np.degrees(angles.max()))


def captured(weights, components, variances, level=.99):
    """Which of PCA's directions (in order of variance) lie in the span of the weight rows:
    the share of each component's length in that span (cos^2 of its angle to it); how many of
    the first ones in a row reach `level`; and the share of PCA's variance carried by the
    components that do not."""
    basis, _ = np.linalg.qr(weights.T.astype(np.float64))  # orthonormal, the span of the rows
    share = np.sum((components.astype(np.float64) @ basis) ** 2, axis=1)
    first = int(np.argmin(share >= level)) if (share < level).any() else len(share)
    missed = share < level
    return dict(level=level, leading=first, missed=int(missed.sum()),
                missed_variance=float(variances[missed].sum() / variances.sum()))


def converged_at(linear, pca):
    """The first epoch from which the linear autoencoder's test error stays within CONVERGED
    of PCA's, or None."""
    excess = [value / pca['test_mse'] - 1 for value in linear['test_curve']]
    return next((e for e in range(1, len(excess) + 1)
                 if all(x <= CONVERGED for x in excess[e - 1:])), None)


def comparison(linear, pca):
    """The linear tied autoencoder against PCA: its test error epoch by epoch above PCA's, the
    epoch it converged at, and the subspace its weights span at the end against PCA's."""
    if pca['components_used'] < pca['k'] or pca['test_mse'] < 1e-12:
        return dict(exact=pca['components_used'])  # PCA reconstructs exactly: nothing to compare
    excess = [value / pca['test_mse'] - 1 for value in linear['test_curve']]
    converged = converged_at(linear, pca)
    shown = sorted({1, *range(5, len(excess) + 1, 5), len(excess), converged or 1})
    overlap, largest = subspace(linear['weights'], pca['components'])
    return dict(exact=None, converged=converged, epochs=len(excess), within=CONVERGED,
                k=pca['k'], overlap=overlap, largest=largest,
                **captured(linear['weights'], pca['components'], pca['variances']),
                rows=[dict(epoch=e, test_mse=linear['test_curve'][e - 1], excess=excess[e - 1])
                      for e in shown])


def first_below(curve, level):
    return next((i for i, value in enumerate(curve, 1) if value < level), None)


def data_source(split):
    """Where the images came from, in words that name no folder of this machine."""
    if split.name == 'digits':
        return '`sklearn.datasets.load_digits`'
    if os.path.isdir(split.source):
        return "MNIST's four official IDX files (`MNIST_DIR`)"
    return "OpenML's `mnist_784` (scikit-learn's `fetch_openml`)"


def report_header(command, seconds, jobs, results):
    """What made a report: its command, the machine and stack, its runs and their time."""
    trained = [r for r in results if r.get('command')]
    return dict(command=command, machine=machine(), date=time.strftime('%Y-%m-%d'),
                versions=versions(), runs=len(trained), cached=sum(r['cached'] for r in trained),
                training=sum(r['seconds'] for r in trained), jobs=jobs, seconds=seconds)


def grid_report(results, split, n_inputs, command, seconds, jobs):
    """Everything the grid's report says, computed: the tables' rows over their seeds, the
    baselines and what the findings compare. JSON-able (results.json); templates/grid.md.j2
    turns it into words."""
    pca = {r['k']: r for r in results if r['kind'] == 'pca'}
    runs = over_seeds([r for r in results if r['kind'] in ('autoencoder', 'deep')])
    singles = [r for r in runs if r['kind'] == 'autoencoder'
               and r['group'] not in ('linear', 'make run')]
    deeps = [dict(r, pca=pca[r['code']]) for r in runs if r['group'] == 'deep']
    level = pca[25]['test_mse']
    pretraining = [dict(r, **first_below_over_seeds(r['curves'], level))
                   for r in sorted((r for r in runs if r['kind'] == 'deep'
                                    and tuple(r['sizes']) == (100, 25)),
                                   key=lambda r: (r['corruption'] == 0, -r['pretrain']))]
    linear = next(r for r in runs if r['group'] == 'linear')
    shown = lambda g: [r for r in runs if r.get('group') == g and r['pictures']]  # noqa: E731
    (x_train, x_test), _ = split
    return plain(dict(
        header=report_header(command, seconds, jobs, results),
        data=dict(name=split.name, source=data_source(split), n_inputs=n_inputs,
                  n_train=len(x_train), n_test=len(x_test), split_seed=runs[0]['split_seed'],
                  pixel_probe=next(r for r in results if r['kind'] == 'pixels')['probe']),
        seeds={script: seeds(script, len(runs[0]['seeds'])) for script in (AE, DEEP)},
        pca={str(k): r for k, r in pca.items()}, paper=PAPER, singles=singles, deeps=deeps,
        pretraining=pretraining,
        linear=dict(linear, comparison=comparison(linear, pca[100])),  # its own seed's run
        make_run=next(r for r in runs if r['group'] == 'make run'),
        findings=findings(singles, deeps, pretraining, pca),
        pictures=dict(activations=shown('activations'), best=shown('best') + shown('epochs'),
                      deep=shown('deep'))))


def first_below_over_seeds(curves, level):
    """The first epoch below `level` of each seed's curve, and over those that get there,
    their median epoch and how many they are."""
    below = [first_below(curve, level) for curve in curves]
    reached = [e for e in below if e is not None]
    return dict(below=below, below_count=len(reached),
                below_median=float(np.median(reached)) if reached else None)


MEASURES = ('train_mse', 'test_mse', 'probe')  # the columns that depend on the seed


def over_seeds(runs):
    """The grid's rows from their runs: the script's own seed's run (its command, name,
    pictures, test curve and weights) with, for each measure, the mean over the row's seeds and
    its sample standard deviation (`<measure>_sd`, None for one seed), the median seconds,
    every seed's test curve."""
    rows = {}
    for r in runs:
        rows.setdefault(r['row'], []).append(r)
    out = []
    for row in rows.values():
        row.sort(key=lambda r: r['seed'])
        first = row[0]
        stats = {}
        for key in MEASURES:
            mean, sd = spread([r[key] for r in row])
            stats.update({key: mean, f'{key}_sd': None if np.isnan(sd) else sd})
        out.append(dict(first, **stats, seeds=[r['seed'] for r in row],
                        seconds=float(np.median([r['seconds'] for r in row])),
                        curves=[r['test_curve'] for r in row]))
    return out


def plain(value):
    """value with its arrays left out (weights, components, codes) and NumPy's numbers made
    Python's: what results.json holds."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not isinstance(v, np.ndarray)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def environment():
    """Jinja2's environment of templates/, with the number formats the reports use."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROOT, 'templates')),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(
        fixed=lambda v, digits: f'{v:.{digits}f}', f5=lambda v: f'{v:.5f}',
        pct=lambda v: f'{100 * v:.1f}%', per_image=lambda v, n: f'{v * n:.2f}',
        g=lambda v: f'{v:g}', plural=plural, sizes=lambda sizes: str(tuple(sizes)),
        pm=lambda mean, sd, spec='.5f', scale=1: f'{mean * scale:{spec}}' + (
            '' if sd is None else f' ± {sd * scale:{spec}}'))
    return env


def render(template, **context):
    """A report from templates/: its words and layout there, its numbers from `context`."""
    return environment().get_template(template).render(**context)


def findings(singles, deeps, pretraining, pca):
    """What the findings compare, against the original's observations; two rows are called
    apart only beyond their spread over the seeds (runs.apart)."""
    activations = [r for r in singles if r['group'] == 'activations']
    best = min(activations, key=lambda r: r['test_mse'])
    epochs = [r for r in singles if r['group'] in ('best', 'epochs')]
    sigmoid = next(r for r in activations if r['activate'] == 'sigmoid')
    wide = next((r for r in deeps if r['code'] == sigmoid['code']), None)
    nearest = min(singles + deeps, key=lambda r: r['test_mse'] / pca[r['code']]['test_mse'])
    noisy = [r for r in pretraining if r['corruption'] > 0]
    plain_ = [r for r in pretraining if r['corruption'] == 0]
    ordered = sorted(activations, key=lambda r: r['test_mse'])
    return dict(
        gap=max(abs(r['test_mse'] / r['train_mse'] - 1) for r in singles),
        best=best, others=[r for r in activations if r is not best], epochs=epochs,
        activation_pairs=[dict(a=a['activate'], b=b['activate'], apart=differ(a, b))
                          for i, a in enumerate(ordered) for b in ordered[i + 1:]],
        epoch_steps=[dict(falls=b['test_mse'] < a['test_mse'], apart=differ(a, b))
                     for a, b in zip(epochs, epochs[1:])],
        wide=wide and dict(wide, apart=differ(wide, sigmoid)), sigmoid=sigmoid,
        nearest=dict(nearest, pca_mse=pca[nearest['code']]['test_mse']),
        probes=[r['probe'] for r in singles],
        probes_above=[above(r, 'probe', pca[100]['probe']) for r in singles],
        deep_probes_above=[above(r, 'probe', pca[r['code']]['probe']) for r in deeps],
        pretraining=dict(noisy=noisy, plain=plain_, noisy_apart=differ(*noisy),
                         plain_apart=differ(*plain_)) if len(noisy) == len(plain_) == 2 else None)


def above(row, key, value):
    """Whether a row's mean is above a value that does not depend on the seed (PCA's) by more
    than two of its standard deviations; None with one seed."""
    return None if row[f'{key}_sd'] is None else row[key] - 2 * row[f'{key}_sd'] > value


def differ(a, b, key='test_mse'):
    """Whether rows a and b differ beyond their spread in `key`; None with one seed."""
    if a[f'{key}_sd'] is None or b[f'{key}_sd'] is None:
        return None
    return apart((a[key], a[f'{key}_sd']), (b[key], b[f'{key}_sd']))


def versions():
    """The stack the numbers were made on: Python, NumPy, Chainer, NumPy's BLAS and its kernel."""
    import chainer

    import runner
    blas = runner.blas_info()
    return (f'Python {platform.python_version()}, NumPy {np.__version__}, Chainer '
            f'{chainer.__version__}, {blas["library"]} {blas.get("version")} '
            f'({blas.get("core")} kernel)')


def machine():
    """The processor's model name and the number of cores."""
    import runner
    return f'{runner.cpu_name()}, {os.cpu_count()} cores'


def hinton_report(results, split, command, seconds, jobs, pictures):
    """Everything the Hinton experiment's report says, computed (JSON-able, hinton.json);
    templates/hinton.md.j2 turns it into words."""
    (x_train, x_test), _ = split
    n_inputs = x_train.shape[1]
    roles = {r['role']: r for r in results if r['kind'] == 'hinton'}
    nets = [roles[role] for role in ROLES if role in roles]
    goal = PAPER['deep'] / PAPER['pixels']  # the paper's error, per pixel
    validation = [r for r in results if r['kind'] == 'validation']
    best = {group: chosen(validation, group)['label'] for group in ('regulariser', 'learning rate')
            } if validation else {}
    recon, codes_2d, curves = pictures
    return plain(dict(
        header=report_header(command, seconds, jobs, nets),
        data=dict(name=split.name, source=data_source(split), n_inputs=n_inputs,
                  n_train=len(x_train), n_test=len(x_test)),
        arguments=roles['pretrained']['arguments'], jobs=jobs, cores=os.cpu_count(), paper=PAPER,
        goal=GOAL, screening_epochs=SCREENING_EPOCHS, roles=roles,
        nets=[dict(r, below=next((e for e, v in enumerate(r['test_curve'], 1) if v <= goal), None),
                   epoch_median=float(np.median(r['epoch_seconds']))) for r in nets],
        pcas=[r for r in results if r['kind'] == 'pca'],
        validation=[dict(r, chosen=best[r['group']] == r['label'], **lowest(r['curve'], n_inputs))
                    for r in validation],
        regulariser=chosen(validation, 'regulariser') if validation else None,
        regularisers_tried=sum(r['group'] == 'regulariser' for r in validation),
        pictures=dict(reconstructions=recon, codes=codes_2d, curves=curves)))


def lowest(curve, n_inputs):
    """A validation curve's lowest error per image and its epoch (None: it diverged at once)."""
    curve = np.asarray(curve, dtype=float) * n_inputs
    low = int(np.nanargmin(curve)) if np.isfinite(curve).any() else None
    return dict(lowest=None if low is None else float(curve[low]),
                lowest_epoch=None if low is None else low + 1, epochs=len(curve))


ROLES = ('pretrained', 'regularised', 'random', 'sparse', 'code2')  # the table's order


def hinton(split, dataset, runs, out, jobs, quick, retrain, command, device):
    """The --experiment hinton: its runs, pictures, figures/hinton.md and hinton.json."""
    data, labels = split
    tasks = hinton_tasks(data, labels, dataset, runs, out, quick, retrain, device)
    print(f'data: {split.name} from {data_source(split)}; {len(tasks)} runs with --jobs {jobs}; '
          f'runs in {runs}/{dataset}/, pictures to {out}/')
    t0 = time.perf_counter()
    results = run_tasks(tasks, jobs)
    results += run_tasks(chosen_tasks(results, data, labels, dataset, runs, out, quick, retrain,
                                      device), jobs)
    pictures = hinton_pictures(results, data, labels, out)
    seconds = time.perf_counter() - t0
    report = hinton_report(results, split, command, seconds, jobs, pictures)
    utils.write_json(os.path.join(out, 'hinton.json'), report)
    with utils.atomic_path(os.path.join(out, 'hinton.md')) as tmp, open(tmp, 'w') as f:
        f.write('# Hinton & Salakhutdinov\'s deep autoencoder\n\n'
                + render('hinton.md.j2', **report, prefix=''))
    print(f'wrote {os.path.join(out, "hinton.md")} and hinton.json')
    return results


def hinton_seeds(split, dataset, runs, out, jobs, quick, retrain, n_seeds, command, device):
    """The --experiment hinton-seeds: SEEDED_ROWS over n_seeds seeds (deep_autoencoder.py's own
    and the ones after it), figures/hinton_seeds.md and hinton_seeds.json."""
    data, labels = split
    _, *others = seeds(DEEP, n_seeds)
    tasks = [(f'hinton: {label}{f", seed {seed}" if seed else ""}', hinton_row,
              dict(role=role, label=label, data=data, labels=labels, dataset=dataset, runs=runs,
                   out=out, retrain=retrain, options=dict(hinton_options(
                       dict(options, **(dict(seed=seed) if seed else {})), quick), **device)))
             for role, label, options in SEEDED_ROWS for seed in [None, *others]]
    print(f'data: {split.name} from {data_source(split)}; {len(tasks)} runs with --jobs {jobs}; '
          f'runs in {runs}/{dataset}/, the page to {out}/')
    t0 = time.perf_counter()
    results = run_tasks(tasks, jobs)
    n = data[0].shape[1]
    rows = []
    for role, label, _ in SEEDED_ROWS:
        runs_ = sorted((r for r in results if r['role'] == role), key=lambda r: r['seed'])
        (mean, sd), (probe_mean, probe_sd) = (spread(values) for values in (
            [r['test_mse'] * n for r in runs_], [r['probe'] for r in runs_]))
        rows.append(dict(role=role, label=label, command=runs_[0]['command'], mean=mean,
                         sd=None if np.isnan(sd) else sd, probe=probe_mean,
                         probe_sd=None if np.isnan(probe_sd) else probe_sd,
                         one_stack=len({r['computed_on'] for r in runs_}) == 1, seeds=[dict(
                             seed=r['seed'], test=r['test_mse'] * n, train=r['train_mse'] * n,
                             probe=r['probe'], computed_on=r['computed_on'],
                             minutes=r['seconds'] / 60) for r in runs_]))
    one_seed = any(r['sd'] is None for r in rows)
    report = plain(dict(
        header=report_header(command, time.perf_counter() - t0, jobs, results),
        data=dict(name=split.name, source=data_source(split), n_inputs=n), paper=PAPER, rows=rows,
        apart=None if one_seed else apart(*((r['mean'], r['sd']) for r in rows)),
        probe_apart=None if one_seed else apart(*((r['probe'], r['probe_sd']) for r in rows)),
        below_paper=[None if r['sd'] is None else r['mean'] + 2 * r['sd'] < PAPER['deep']
                     for r in rows]))
    utils.write_json(os.path.join(out, 'hinton_seeds.json'), report)
    with utils.atomic_path(os.path.join(out, 'hinton_seeds.md')) as tmp, open(tmp, 'w') as f:
        f.write(render('hinton_seeds.md.j2', **report))
    print(f'wrote {os.path.join(out, "hinton_seeds.md")} and hinton_seeds.json')
    return results


def write_readme_section(path, body, markers=README_MARKERS):
    """Replace what lies between the two markers of a README."""
    utils.write_between_markers(path, body, markers)


# ---------------------------------------------------------------- command line

def main(argv=None):
    import runner
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--experiment', choices=('original', 'hinton', 'hinton-seeds'),
                   default='original',
                   help="original: the original's grid and our additions, each row with --seeds "
                        "seeds (about an hour with --jobs 2); "
                        "hinton: Hinton & Salakhutdinov's 784-1000-500-250-30 on MNIST's own "
                        "split (hours; resumable: rerun the same command); hinton-seeds: its "
                        "two main rows over --seeds seeds (default 3)")
    p.add_argument('--quick', action='store_true',
                   help='the same runs with a tenth of the epochs on the bundled 8x8 digits '
                        '(hinton: 1 and 2 epochs, on a random split)')
    p.add_argument('--jobs', type=int, default=1, help='runs in parallel processes')
    p.add_argument('--seeds', type=int, default=None,
                   help=f"the grid's runs of each row: its script's own seed and the ones after "
                        f"it; the tables give their mean and standard deviation (default "
                        f"{SEEDS}, 2 with --quick)")
    p.add_argument('--dataset', choices=('mnist', 'digits'), default=None,
                   help='default: digits with --quick, else mnist')
    p.add_argument('--out', type=os.path.expanduser, default=None,
                   help='tables and pictures; default: figures/ for MNIST (and README.md is '
                        'updated), results/reproduce-<dataset>/ otherwise')
    p.add_argument('--runs', type=os.path.expanduser, default=None,
                   help="where the runs write (each script's --out); default: results, as the "
                        "rows' commands do, for figures/; OUT/runs otherwise")
    p.add_argument('--device', default='@numpy',
                   help="a Chainer device for the runs (each row's --device): @numpy (the CPU), "
                        "@cupy:0 (a GPU)")
    p.add_argument('--retrain', action='store_true',
                   help='train every run again, even one that finished before with the same '
                        'arguments (by default it is read back)')
    utils.one_line_errors(p)
    for problem in chainer_compat.check():  # the environment's versions, before any work
        p.error(problem)
    args = p.parse_args(argv)
    handlers = runner.handle_signals()  # Ctrl-C: stop at once; the runs save their snapshots
    try:
        return experiment(p, args, argv)
    except ConfigError as e:
        p.error(str(e))
    except (utils.WriteError, WriteFailed) as e:  # not bad input: the disk filled, or rights
        stop_processes()
        print(f'{p.prog}: error: {e}', file=sys.stderr)
        return 1
    except runner.Interrupted as e:
        stop_processes()
        print(f'{p.prog}: stopped by {e}; run the same command again to continue',
              file=sys.stderr)
        return 128 + e.signum
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def experiment(p, args, argv):
    """Load the data, run the experiment, write its tables."""
    from threadpoolctl import threadpool_limits

    import runner
    t0 = time.perf_counter()
    utils.check_int('jobs', args.jobs)
    default_seeds = HINTON_SEEDS if args.experiment == 'hinton-seeds' else SEEDS
    args.seeds = utils.check_int('seeds', (2 if args.quick else default_seeds)
                                 if args.seeds is None else args.seeds)
    runner.get_device(args.device)
    device = {} if args.device == '@numpy' else dict(device=args.device)
    dataset = args.dataset or ('digits' if args.quick else 'mnist')
    official = args.out is None and dataset == 'mnist' and not args.quick
    out = args.out or (os.path.join(ROOT, 'figures') if official
                       else os.path.join('results', f'reproduce-{dataset}'))
    utils.check_writable_dir('out', out)
    runs = args.runs or (os.path.join(ROOT, 'results') if official else os.path.join(out, 'runs'))
    utils.check_writable_dir('runs', runs)
    split_seed = script_module(DEEP).HYPERPARAMETERS['split_seed']
    split = utils.load_mnist(dataset=dataset, seed=split_seed, split='official' if (
        args.experiment != 'original' and dataset != 'digits') else 'random')
    data, labels = split
    command = ' '.join(['python reproduce.py', *(argv if argv is not None else sys.argv[1:])])
    with threadpool_limits(1):  # the probes and baselines too: the same numbers whatever --jobs
        if args.experiment == 'hinton':
            hinton(split, dataset, runs, out, args.jobs, args.quick, args.retrain, command,
                   device)
            return 0
        if args.experiment == 'hinton-seeds':
            hinton_seeds(split, dataset, runs, out, args.jobs, args.quick, args.retrain, args.seeds,
                         command, device)
            return 0
        print(f'data: {split.name} from {data_source(split)}; '
              f'{len(grid(args.quick, args.seeds))} runs ({args.seeds} seeds a row) and 3 '
              f'baselines with --jobs {args.jobs}; runs in {runs}/{dataset}/, pictures to {out}/')
        results = run_all(data, labels, dataset, runs, out, args.jobs, args.quick, args.retrain,
                          device, args.seeds)
    report = grid_report(results, split, data[0].shape[1], command, time.perf_counter() - t0,
                         args.jobs)
    utils.write_json(os.path.join(out, 'results.json'), report)
    page, blocks = grid_pages(report)
    with utils.atomic_path(os.path.join(out, 'README.md')) as tmp, open(tmp, 'w') as f:
        f.write(page)
    print(f'wrote {os.path.join(out, "README.md")} and results.json')
    if official:
        for readme, body in blocks.items():
            write_readme_section(os.path.join(ROOT, readme), body)
        print(f'updated the results blocks of {" and ".join(blocks)}')
    return 0


def grid_pages(report):
    """The pages of one report: the full one (OUT/README.md), and the results in brief for the
    README and the Japanese README ({file: the block between their markers})."""
    return ('# Results\n\n' + render('grid.md.j2', **report, prefix=''),
            {'README.md': utils.wrap_prose(render('readme.md.j2', **report)),
             'README.ja.md': render('readme.ja.md.j2', **report)})  # Japanese has no spaces


if __name__ == '__main__':
    sys.exit(main())
