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
script measures the PCA baselines and the probes, copies the weight pictures to figures/ and
writes one table, figures/README.md, also rendered into the Results section of README.md.
A line is printed as each run starts and as it ends.

    MNIST_DIR=~/data/mnist python reproduce.py --experiment hinton --jobs 3   # hours

--experiment hinton, not part of the grid above: Hinton & Salakhutdinov's (Science 2006)
784-1000-500-250-30 autoencoder on MNIST's own 60,000/10,000 split, pretrained greedily
with denoising autoencoders and fine-tuned on the cross-entropy (HINTON below), the same
network from random initial weights, PCA-30, and a 784-1000-500-250-2 network for the
paper's Figure 3: a table beside the paper's 3.00 and 13.87, figures/hinton_*.png, and
the README's Hinton section. Beyond the paper, chosen on a validation split (MNIST's first
50,000 training images; its last 10,000 to validate): a regulariser for the pretrained
network (REGULARISERS), and the learning rate of Sutskever et al.'s (2013) recipe without
pretraining (SPARSE_NESTEROV, LEARNING_RATES); each choice is then trained on MNIST's own
split and tested once. Resumable: rerun the same command.
"""
import argparse
import concurrent.futures
import os
import platform
import signal
import sys
import time

import numpy as np

import chainer_compat
import utils
from runs import (AE, DEEP, ROOT, WriteFailed, codes, command_line, copy_pictures, load_run,
                  probe, say, script_module, script_run, seconds_of, stop_processes)
from utils import ConfigError

README_MARKERS = ('<!-- results:start -->', '<!-- results:end -->')
HINTON_MARKERS = ('<!-- hinton:start -->', '<!-- hinton:end -->')

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
CONVERGED = .005  # within 0.5% of PCA's test error

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
                  components=pca.components_)
    if shown is not None:
        result.update(test_codes=test_codes,
                      reconstructions=pca.inverse_transform(test_codes[shown]))
    return result


def pixel_probe(data, labels):
    return dict(kind='pixels', probe=probe(data[0], data[1], labels))


def grid_row(group, script, options, data, labels, dataset, runs, out, retrain):
    """One row of the grid: its run, its errors and probe, its pictures."""
    run = script_run(script, options, dataset, runs, retrain)
    model = load_run(run, script, data[0].shape[1])
    record, a = run['record'], run['record']['arguments']
    result = dict(group=group, command=run['command'], name=run['name'],
                  corruption=a['corruption_ratio'], dropout=a['dropout_ratio'],
                  activate=a['activate'], train_mse=record['loss_values'][-1],
                  test_mse=record['test_loss_values'][-1], test_curve=record['test_loss_values'],
                  probe=probe(codes(model, data[0]), codes(model, data[1]), labels),
                  seconds=seconds_of(record), cached=run['cached'], split_seed=a['split_seed'])
    shown = group in ('activations', 'best', 'epochs', 'deep')
    pictures = copy_pictures(run, model.weight_pictures(), out) if shown else []
    if script == AE:
        return dict(result, kind='autoencoder', epoch=a['epoch'], code=a['n_hidden'],
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


def grid(quick):
    """Every row as (label, group, script, options); quick: a tenth of the epochs."""
    rows = [(group, AE, o) for group, o in AUTOENCODERS] + [
        (group, DEEP, o) for group, o in DEEP_RUNS] + [(LINEAR[0], AE, LINEAR[1])]
    fast = quick_options if quick else (lambda o: o)
    return [(f'{group}: {" ".join(command_line(script, fast(options), "")[3:])}', group, script,
             fast(options)) for group, script, options in rows]


def plural(n, noun):
    return f'{n} {noun}{"" if n == 1 else "s"}'


def run_tasks(tasks, jobs):
    """(label, function, keyword arguments) in --jobs threads (each run is a process of its
    own); the results in their order. A line as each starts and ends."""
    results, n = [None] * len(tasks), len(tasks)

    def task(i):
        label, fn, kwargs = tasks[i]
        say(f'start {label} (run {i + 1} of {n})')
        t0 = time.perf_counter()
        return i, label, fn(**kwargs), t0
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(task, i) for i in range(n)]
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                i, label, result, t0 = future.result()
                results[i] = result
                say(f'done  {label}: {time.perf_counter() - t0:.0f} s; '
                    f'{plural(n - done, "run")} left')
        except BaseException:
            for future in futures:
                future.cancel()
            stop_processes()
            raise
    return results


def run_all(data, labels, dataset, runs, out, jobs, quick, retrain, device):
    """Every row and baseline, in --jobs threads; the results in the grid's order."""
    tasks = [(label, grid_row, dict(group=group, script=script, options=dict(options, **device),
                                    data=data,
                                    labels=labels, dataset=dataset, runs=runs, out=out,
                                    retrain=retrain))
             for label, group, script, options in grid(quick)]
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
                pictures=copy_pictures(run, model.weight_pictures(), out) if pictures else [], arguments=a)


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


def converged_at(linear, pca):
    """The first epoch from which the linear autoencoder's test error stays within CONVERGED
    of PCA's, or None."""
    excess = [value / pca['test_mse'] - 1 for value in linear['test_curve']]
    return next((e for e in range(1, len(excess) + 1)
                 if all(x <= CONVERGED for x in excess[e - 1:])), None)


def comparison(linear, pca):
    """Markdown lines: the linear tied autoencoder against PCA, epoch by epoch, and the
    subspace its weights span at the end against PCA's."""
    if pca['components_used'] < pca['k'] or pca['test_mse'] < 1e-12:
        return [f'With only {pca["components_used"]} inputs, PCA with {pca["components_used"]} '
                f'components reconstructs exactly: nothing to compare.']
    excess = [value / pca['test_mse'] - 1 for value in linear['test_curve']]
    converged = converged_at(linear, pca)
    shown = sorted({1, *range(5, len(excess) + 1, 5), len(excess), converged or 1})
    lines = ['| epoch | test MSE | above PCA\'s |', '| --- | --- | --- |']
    lines += [f'| {e}{" (converged)" if e == converged else ""} | '
              f'{linear["test_curve"][e - 1]:.5f} | {100 * excess[e - 1]:+.2f}% |' for e in shown]
    overlap, largest = subspace(linear['weights'], pca['components'])
    verdict = (f'It converged to PCA at epoch **{converged}**: from there on its test error stays '
               f'within ' if converged else f'It did not converge within {len(excess)} epochs to ')
    return [verdict + f'{100 * CONVERGED:.1f}% of PCA-{pca["k"]}\'s. After epoch {len(excess)} '
            f'the mean cos^2 of the principal angles between the span of its 100 weight rows and '
            f'PCA\'s 100 components is {overlap:.4f} (1 = the same subspace), the largest angle '
            f'{largest:.1f} degrees.', '', *lines]


def first_below(curve, level):
    return next((i for i, value in enumerate(curve, 1) if value < level), None)


def data_source(split):
    """Where the images came from, in words that name no folder of this machine."""
    if split.name == 'digits':
        return '`sklearn.datasets.load_digits`'
    if os.path.isdir(split.source):
        return "MNIST's four official IDX files (`MNIST_DIR`)"
    return "OpenML's `mnist_784` (scikit-learn's `fetch_openml`)"


def commands(rows, first=1):
    """Markdown lines: the numbered commands of table rows."""
    return ['', 'Commands (MNIST: with `MNIST_DIR` set to the folder of the four IDX files):', '',
            *(f'{i}. `{r["command"]}`' for i, r in enumerate(rows, first))]


def header(command, seconds, jobs, results):
    trained = [r for r in results if r.get('command')]
    cached = sum(r['cached'] for r in trained)
    training = sum(r['seconds'] for r in trained)
    return (f'Produced by `{command}` on {machine()}, {time.strftime("%Y-%m-%d")}, with '
            f'{versions()}: '
            f'{plural(len(trained), "run")}, {training / 60:.1f} minutes of training in all '
            f'(each run\'s own time, from its run.json, with one BLAS thread, --jobs {jobs})'
            + (f'; {cached} of them read back from an earlier invocation' if cached else '')
            + f'; this invocation {seconds:.0f} s.')


def table(results, split, n_inputs, command, seconds, jobs, pictures_prefix=''):
    """The Markdown results: tables, their commands, what they say, then the pictures."""
    pca = {r['k']: r for r in results if r['kind'] == 'pca'}
    pixels = next(r for r in results if r['kind'] == 'pixels')
    k100, k25 = pca[100]['components_used'], pca[25]['components_used']
    runs = [r for r in results if r['kind'] in ('autoencoder', 'deep')]
    img = lambda name: f'<img src="{pictures_prefix}{name}" width="240">'  # noqa: E731
    f5 = lambda v: f'{v:.5f}'  # noqa: E731
    per_image = lambda v: f'{v * n_inputs:.2f}'  # noqa: E731
    pct = lambda v: f'{100 * v:.1f}%'  # noqa: E731
    (x_train, x_test), _ = split
    singles = [r for r in runs if r['kind'] == 'autoencoder' and r['group'] != 'linear']
    deeps = [r for r in runs if r['group'] == 'deep']
    lines = [
        header(command, seconds, jobs, results), '',
        f'Data: **{split.name}** from {data_source(split)}: {len(x_train) + len(x_test):,} images '
        f'of {n_inputs} pixels, split 75/25 by `train_test_split` (seed '
        f'{runs[0]["split_seed"]}) into {len(x_train):,} training and {len(x_test):,} test '
        f'images. Errors are mean squared reconstruction errors per pixel (pixels in [0, 1]) in '
        f'eval mode (no noise, no dropout); "per image" is the sum over the {n_inputs} pixels. '
        f'Probe: accuracy on the test set of a logistic regression fitted on the training '
        f'set\'s codes (standardised); on the raw pixels it is {pct(pixels["probe"])}. Each row '
        f'is the command of the same number below the table; the options it does not name are '
        f'the scripts\' defaults (batch 100, seed 1 for autoencoder.py and 71 for '
        f'deep_autoencoder.py).',
        '',
        f'### Single autoencoder, {n_inputs} -> 100 (Adam, batch 100)',
        '',
        '| # | group | activation | noise | dropout | epochs | train MSE | test MSE | test, per image '
        f'| PCA-{k100} test MSE | probe: code | probe: PCA-{k100} | seconds |',
        '|' + ' --- |' * 13,
    ]
    for i, r in enumerate(singles, 1):
        lines.append(f'| {i} | {r["group"]} | {r["activate"]} | {r["corruption"]:.2f} | '
                     f'{r["dropout"]:.2f} | {r["epoch"]} | {f5(r["train_mse"])} | '
                     f'{f5(r["test_mse"])} | {per_image(r["test_mse"])} | '
                     f'{f5(pca[100]["test_mse"])} | {pct(r["probe"])} | '
                     f'{pct(pca[100]["probe"])} | {r["seconds"]:.1f} |')
    lines += commands(singles)
    lines += [
        '',
        '### Deep autoencoder (sigmoid, Adam, batch 100)',
        '',
        '| # | hidden sizes | noise | dropout | pretraining epochs a layer | fine-tuning epochs '
        '| train MSE | test MSE | test, per image | PCA test MSE (k = code) | PCA, per image '
        '| probe: code | probe: PCA | seconds |',
        '|' + ' --- |' * 14,
    ]
    for i, r in enumerate(deeps, 1):
        p = pca[r['code']]
        lines.append(f'| {i} | {tuple(r["sizes"])} | {r["corruption"]:.2f} | {r["dropout"]:.2f} | '
                     f'{r["pretrain"] or "none"} | {r["finetune"]} | {f5(r["train_mse"])} | '
                     f'{f5(r["test_mse"])} | {per_image(r["test_mse"])} | '
                     f'{f5(p["test_mse"])} (k = {p["components_used"]}) | {per_image(p["test_mse"])} | '
                     f'{pct(r["probe"])} | {pct(p["probe"])} | {r["seconds"]:.1f} |')
    lines += commands(deeps)
    level = pca[25]['test_mse']
    pretraining = sorted((r for r in runs if r['kind'] == 'deep' and tuple(r['sizes']) == (100, 25)),
                         key=lambda r: (r['corruption'] == 0, -r['pretrain']))
    lines += [
        '',
        '### Does pretraining help? DAE (100, 25), same seed, same fine-tuning epochs',
        '',
        '| # | objective | pretraining epochs a layer | fine-tuning epochs | test MSE | test, per image '
        f'| first fine-tuning epoch below PCA-{k25} ({f5(level)}) | probe: code | seconds |',
        '|' + ' --- |' * 9,
    ]
    for i, r in enumerate(pretraining, 1):
        objective = ('plain reconstruction (no noise, no dropout)' if r['corruption'] == 0
                     else f'the original\'s (noise {r["corruption"]:.2f}, dropout {r["dropout"]:.2f})')
        below = first_below(r['test_curve'], level)
        lines.append(f'| {i} | {objective} | {r["pretrain"] or "none"} | {r["finetune"]} | '
                     f'{f5(r["test_mse"])} | {per_image(r["test_mse"])} | '
                     f'{below or "not within " + str(r["finetune"])} | {pct(r["probe"])} | '
                     f'{r["seconds"]:.1f} |')
    lines += commands(pretraining)
    lines += ['', f'For scale: Hinton & Salakhutdinov (Science 2006) report, per MNIST test image, '
                  f'{PAPER["deep"]:.2f} for a 784-1000-500-250-30 deep autoencoder (RBM '
                  f'pretraining, 60,000 training images) against {PAPER["pca"]:.2f} for '
                  f'30-component PCA. Here, with a 25-d code, PCA-{k25} gives {per_image(level)} '
                  f'per image.']
    linear = next(r for r in runs if r['group'] == 'linear')
    lines += [
        '',
        '### A linear tied autoencoder is PCA',
        '',
        f'{n_inputs} -> 100 -> {n_inputs} with the identity activation, decoder weight = encoder weight '
        f'transposed (own biases), no noise, no dropout, {linear["epoch"]} epochs of Adam with a '
        f'learning rate of {linear["alpha"]:g} multiplied by {linear["decay"]:g} after every epoch '
        f'(`{linear["command"]}`):',
        '',
        '| model | test MSE | test, per image |',
        '| --- | --- | --- |',
        f'| linear tied autoencoder, k = 100 | {f5(linear["test_mse"])} | {per_image(linear["test_mse"])} |',
        f'| PCA, k = {k100} | {f5(pca[100]["test_mse"])} | {per_image(pca[100]["test_mse"])} |',
        '',
        *comparison(linear, pca[100]),
        '',
        '### What the numbers say',
        '',
        *findings(singles, deeps, pretraining, pca, k25, f5, pct),
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


def describe(r):
    if r['kind'] == 'deep':
        return f'the deep autoencoder {tuple(r["sizes"])}'
    return f'the {r["activate"]} autoencoder ({r["group"]}, {plural(r["epoch"], "epoch")})'


def findings(singles, deeps, pretraining, pca, k25, f5, pct):
    """Markdown bullets: what the tables say against the original's observations, every
    number taken from them."""
    gap = max(abs(r['test_mse'] / r['train_mse'] - 1) for r in singles)
    activations = [r for r in singles if r['group'] == 'activations']
    best = min(activations, key=lambda r: r['test_mse'])
    epochs = [r for r in singles if r['group'] in ('best', 'epochs')]
    falling = all(a['test_mse'] > b['test_mse'] for a, b in zip(epochs, epochs[1:]))
    sigmoid = next(r for r in activations if r['activate'] == 'sigmoid')
    wide = next((r for r in deeps if r['code'] == sigmoid['code']), None)
    noisy = [r for r in singles + deeps]
    nearest = min(noisy, key=lambda r: r['test_mse'] / pca[r['code']]['test_mse'])
    lines = [
        f'- Overfitting: the largest gap between a single autoencoder\'s training and test '
        f'errors is {100 * gap:.1f}% of the training error.',
        f'- Activations: {best["activate"]} reaches the lowest test error, {f5(best["test_mse"])} ('
        + ', '.join(f'{r["activate"]} {f5(r["test_mse"])}' for r in activations if r is not best)
        + ').',
        f'- Epochs ({epochs[0]["activate"]}, dropout {epochs[0]["dropout"]:.2f}): the test error '
        + ('falls' if falling else 'does not fall steadily') + ' from '
        + ' to '.join(f'{f5(r["test_mse"])} ({plural(r["epoch"], "epoch")})' for r in epochs) + '.',
    ]
    if wide:
        lines.append(f'- The deep autoencoder {tuple(wide["sizes"])} with a {wide["code"]}-unit code '
                     f'ends at {f5(wide["test_mse"])}, the single {sigmoid["activate"]} '
                     f'autoencoder with as many code units at {f5(sigmoid["test_mse"])}.')
    single_probes = [r['probe'] for r in singles]
    lines.append(f'- Against PCA at the same code size, the closest of these noisy, dropped-out '
                 f'runs is {describe(nearest)} ({f5(nearest["test_mse"])} '
                 f'against PCA-{nearest["code"]}\'s {f5(pca[nearest["code"]]["test_mse"])}, '
                 f'{100 * (nearest["test_mse"] / pca[nearest["code"]]["test_mse"] - 1):+.0f}%). '
                 f'For the linear probe, their codes give '
                 f'{pct(min(single_probes))} to {pct(max(single_probes))} for the single '
                 f'autoencoders against {pct(pca[100]["probe"])} for PCA-100'
                 + ''.join(f'; {pct(r["probe"])} for the {tuple(r["sizes"])} network against '
                           f'{pct(pca[r["code"]]["probe"])}' for r in deeps) + '.')
    noisy_pre = [r for r in pretraining if r['corruption'] > 0]
    plain = [r for r in pretraining if r['corruption'] == 0]
    if len(noisy_pre) == 2 and len(plain) == 2:
        with_, without = noisy_pre
        lines.append(f'- Pretraining, with the original\'s noisy objective: {f5(with_["test_mse"])} '
                     f'with, {f5(without["test_mse"])} without, after '
                     f'{plural(with_["finetune"], "fine-tuning epoch")}. On plain reconstruction after {plain[0]["finetune"]}: '
                     f'{f5(plain[0]["test_mse"])} with, {f5(plain[1]["test_mse"])} without '
                     f'(PCA-{k25}: {f5(pca[25]["test_mse"])}); the first epoch below PCA-{k25}: '
                     + ' with pretraining, '.join(
                         str(first_below(r['test_curve'], pca[25]['test_mse'])
                             or f'none within {r["finetune"]}') for r in plain)
                     + ' without.')
    return lines


def versions():
    """The stack the numbers were made on: Python, NumPy, Chainer, NumPy's BLAS and its kernel."""
    import chainer

    import runner
    blas = runner.blas_info()
    return (f'Python {platform.python_version()}, NumPy {np.__version__}, Chainer '
            f'{chainer.__version__}, {blas["library"]} {blas.get("version")} '
            f'({blas.get("core")} kernel)')


def machine():
    """The processor's model name (Linux), else its architecture, and the number of cores."""
    try:
        with open('/proc/cpuinfo') as f:
            name = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        name = platform.machine()
    return f'{name}, {os.cpu_count()} cores'


def hinton_table(results, split, command, seconds, jobs, pictures, pictures_prefix=''):
    """The Markdown of the Hinton experiment: the table beside the paper's, the commands,
    then the pictures."""
    (x_train, x_test), _ = split
    n_inputs = x_train.shape[1]
    by_role = {r['role']: r for r in results if r['kind'] == 'hinton'}
    nets = [by_role[role] for role in ROLES if role in by_role]
    deep, deep2 = by_role['pretrained'], by_role['code2']
    pca, pca2 = (r for r in results if r['kind'] == 'pca')
    validation = [r for r in results if r['kind'] == 'validation']
    a = deep['arguments']
    f5 = lambda v: f'{v:.5f}'  # noqa: E731
    goal = PAPER['deep'] / PAPER['pixels']  # the paper's error, per pixel
    how = ("MNIST's own split" if a['split'] == 'official'
           else f'a random 75/25 split (seed {a["split_seed"]})')
    lines = [
        header(command, seconds, jobs, nets), '',
        f'Data: **{split.name}** from {data_source(split)}, {how}: {len(x_train):,} training and '
        f'{len(x_test):,} test images of {n_inputs} pixels in [0, 1]. Errors: squared '
        f'reconstruction error on the test set in eval mode, per pixel and per image (the sum '
        f'over the {n_inputs} pixels, the paper\'s measure). Network {n_inputs}-'
        f'{"-".join(map(str, deep["sizes"]))}, {a["activate"]} units but {a["code_activate"]} code '
        f'units, trained on {a["loss"]} with {a["optimizer"]} (learning rate {a["lr"]:g}, times '
        f'{a["lr_decay"]:g} after every epoch), batch {a["batchsize"]}, seed {a["seed"]}; '
        f'pretraining: one denoising autoencoder a layer (masking noise '
        f'{a["pretrain_corruption_ratio"]:.2f}), fine-tuning: no noise, no dropout, unless the '
        f'row says otherwise (its command has every setting). Probe: '
        f'accuracy on the test set of a logistic regression fitted on the training set\'s codes. '
        f'Minutes: the training of each network (pretraining and fine-tuning, with the '
        f'evaluation after every epoch), its own process on one BLAS thread'
        + (f', {jobs} of them sharing the {os.cpu_count()} cores.' if jobs > 1 else '.')
        + ('' if n_inputs == PAPER['pixels'] else f' Not comparable with the paper\'s numbers: '
           f'these images have {n_inputs} pixels, the paper\'s {PAPER["pixels"]}.'),
        '',
        '| # | model | test error per pixel | per image | pretraining epochs a layer '
        '| fine-tuning epochs (updates) | training error per image | first epoch at or below '
        '3.00 | minutes of training | seconds a fine-tuning epoch (median) | probe: code |',
        '|' + ' --- |' * 11,
        f'| | Hinton & Salakhutdinov 2006: deep autoencoder (RBMs, conjugate gradients) '
        f'| {f5(goal)} | **{PAPER["deep"]:.2f}** | | | | | | | |',
        f'| | Hinton & Salakhutdinov 2006: PCA-30 | {f5(PAPER["pca"] / PAPER["pixels"])} '
        f'| {PAPER["pca"]:.2f} | | | | | | | |',
    ]
    for i, r in enumerate(nets, 1):
        below = next((e for e, v in enumerate(r['test_curve'], 1) if v <= goal), None)
        lines.append(f'| {i} | **ours**: {r["label"]} | {f5(r["test_mse"])} | '
                     f'**{r["test_mse"] * n_inputs:.2f}** | {r["pretrain"] or "none"} | '
                     f'{r["finetune"]} ({r["updates"]:,}) | {r["train_mse"] * n_inputs:.2f} | '
                     f'{below or "not reached"} | {r["seconds"] / 60:.0f} | '
                     f'{np.median(r["epoch_seconds"]):.1f} | {100 * r["probe"]:.1f}% |')
    for p in (pca, pca2):
        lines.append(f'| | ours: PCA-{p["k"]} | {f5(p["test_mse"])} | {p["test_mse"] * n_inputs:.2f} '
                     f'| | | | | | | {100 * p["probe"]:.1f}% |')
    lines += commands(nets)
    lines += validation_table(validation, n_inputs, first=len(nets) + 1)
    lines += ['', '### What the numbers say', '',
              *hinton_findings(by_role, validation, pca, pca2, n_inputs)]
    img = lambda name, width: f'<img src="{pictures_prefix}{name}" width="{width}">'  # noqa: E731
    recon, codes_2d, curves = pictures
    lines += [
        '',
        'Learning curves (squared error per image, log scale; fine-tuning epochs):',
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


ROLES = ('pretrained', 'regularised', 'random', 'sparse', 'code2')  # the table's order


def validation_table(validation, n_inputs, first):
    """Markdown lines: what was tried on the validation split, the choices in bold, commands."""
    if not validation:
        return []
    best = {group: chosen(validation, group)['label'] for group in ('regulariser', 'learning rate')}
    lines = ['', 'Chosen without the test set: each candidate trained on the first 50,000 '
             'training images and measured on the last 10,000 (the validation set), the lowest '
             'validation error after the last epoch chosen (bold), then that setting alone '
             'trained as above. The regularisers on the pretrained network, as long as it; the '
             f'learning rate of the sparse-Nesterov recipe after {SCREENING_EPOCHS} epochs '
             '(theirs: a mean over pixels, so ~784 times the learning rates of a sum).', '',
             '| # | candidate | validation error per image | lowest, at epoch '
             '| training error per image | epochs |', '|' + ' --- |' * 6]
    for i, r in enumerate(validation, first):
        curve = np.asarray(r['curve'], dtype=float) * n_inputs
        low = int(np.nanargmin(curve)) if np.isfinite(curve).any() else None
        name = f'{r["group"]}: {r["label"]}'
        lines.append(f'| {i} | {f"**{name}**" if best[r["group"]] == r["label"] else name} | '
                     f'{r["error"] * n_inputs:.2f} | '
                     + (f'{curve[low]:.2f}, {low + 1}' if low is not None else 'diverged')
                     + f' | {r["train"] * n_inputs:.2f} | {len(curve)} |')
    return lines + commands(validation, first)


def hinton_findings(nets, validation, pca, pca2, n_inputs):
    """Markdown bullets read from the Hinton table (no number typed by hand)."""
    per_image = lambda r: r['test_mse'] * n_inputs  # noqa: E731
    deep, random_init = nets['pretrained'], nets['random']
    lines = [f'- **The paper\'s {PAPER["deep"]:.2f} is '
             f'{"beaten" if per_image(deep) < PAPER["deep"] else "not reached"}** by the pretrained '
             f'network: {per_image(deep):.2f} per test image, while PCA-{pca["k"]} on this split '
             f'gives {per_image(pca):.2f} (the paper: {PAPER["pca"]:.2f}; a check on the measure). '
             f'Its training error ends at {deep["train_mse"] * n_inputs:.2f}: the gap is what a '
             'regulariser can take.']
    if validation:
        best = chosen(validation, 'regulariser')
        tried = [r for r in validation if r['group'] == 'regulariser']
        lines.append(f'- **Regularisers, chosen on the validation set**: of {len(tried)} '
                     f'candidates, {best["label"]} gave the lowest validation error '
                     f'({best["error"] * n_inputs:.2f})'
                     + ('.' if 'regularised' in nets else
                        f': no regulariser beat plain training, so the chosen setting is the '
                        f'pretrained network above ({per_image(deep):.2f} per test image), '
                        + ('at or below' if per_image(deep) <= GOAL else 'above')
                        + f' the goal of {GOAL:.2f}.'))
        if 'regularised' in nets:
            r = nets['regularised']
            lines[-1] += (f' Trained on the full training set and tested once: '
                          f'**{per_image(r):.2f} per test image**, '
                          + (f'at or below the goal of {GOAL:.2f}.' if per_image(r) <= GOAL else
                             f'{per_image(r) - GOAL:.2f} above the goal of {GOAL:.2f}: not reached.'))
    if 'sparse' in nets:
        sparse = nets['sparse']
        better = per_image(sparse) < per_image(deep)
        lines.append(
            f'- **Pretraining, or a better random start, at equal cost?** With '
            f'{deep["finetune"]} fine-tuning epochs each, the network from LeCun-normal weights '
            f'with Adam ends at {per_image(random_init):.2f} per test image; Sutskever et al.'
            f'\'s recipe (sparse initial weights, Nesterov momentum raised to '
            f'{sparse["arguments"]["momentum_max"]:g}, batch {sparse["arguments"]["batchsize"]}, '
            f'no pretraining) at {per_image(sparse):.2f} (training error '
            f'{sparse["train_mse"] * n_inputs:.2f}, after {sparse["updates"]:,} updates); the '
            f'pretrained network at {per_image(deep):.2f}, with '
            f'{plural(deep["pretrain"], "pretraining epoch")} a layer besides. '
            + ('At this budget the better random start does better than pretraining.' if better
               else 'At this budget pretraining is still ahead of the better random start.'))
    lines += [
        '- The later literature: Martens (ICML 2010, "Deep learning via Hessian-free '
        'optimization") trained this network from random weights, without pretraining, to '
        'results better than the 2006 paper\'s. Sutskever, Martens, Dahl & Hinton (ICML 2013, '
        '"On the importance of initialization and momentum in deep learning", Table 1) report a '
        'training error of 0.73 per image with the recipe above after 750,000 updates; they '
        'report no test error. So pretraining is one way to make this network trainable, not '
        'the only one; what this table adds is the comparison at a budget of '
        f'{deep["finetune"]} epochs.',
        f'- The probe: codes of the pretrained network {100 * deep["probe"]:.1f}%, of the '
        f'network from LeCun-normal weights {100 * random_init["probe"]:.1f}%, PCA-{pca["k"]} '
        f'{100 * pca["probe"]:.1f}%; the code of the lower reconstruction error is '
        + ('also' if (deep['probe'] >= random_init['probe'])
           == (deep['test_mse'] <= random_init['test_mse']) else 'not')
        + ' the more linearly separable one.',
        f'- Figure 3: with two code units the probe reads {100 * nets["code2"]["probe"]:.1f}% '
        f'against {100 * pca2["probe"]:.1f}% for the first two principal components.',
    ]
    return lines


def hinton(split, dataset, runs, out, jobs, quick, retrain, command, official, device):
    """The --experiment hinton: its runs, pictures, figures/hinton.md, the README block."""
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
    with utils.atomic_path(os.path.join(out, 'hinton.md')) as tmp, open(tmp, 'w') as f:
        f.write('# Hinton & Salakhutdinov\'s deep autoencoder\n\n'
                + hinton_table(results, split, command, seconds, jobs, pictures) + '\n')
    print(f'wrote {os.path.join(out, "hinton.md")}')
    if official:
        write_readme_section(os.path.join(ROOT, 'README.md'),
                             hinton_table(results, split, command, seconds, jobs, pictures,
                                          pictures_prefix='figures/') + '\n', HINTON_MARKERS)
        print('updated the Hinton section of README.md')
    return results


def write_readme_section(path, body, markers=README_MARKERS):
    """Replace what lies between the two markers of README.md."""
    utils.write_between_markers(path, body, markers)


# ---------------------------------------------------------------- command line

def main(argv=None):
    import runner
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
    p.add_argument('--dataset', choices=('mnist', 'digits'), default=None,
                   help='default: digits with --quick, else mnist')
    p.add_argument('--out', default=None,
                   help='tables and pictures; default: figures/ for MNIST (and README.md is '
                        'updated), results/reproduce-<dataset>/ otherwise')
    p.add_argument('--runs', default=None,
                   help="where the runs write (each script's --out); default: results, as the "
                        "rows' commands do, for figures/; OUT/runs otherwise")
    p.add_argument('--device', default='@numpy',
                   help="a Chainer device for the runs (each row's --device): @numpy (the CPU), "
                        "@cupy:0 (a GPU)")
    p.add_argument('--retrain', action='store_true',
                   help='train every run again, even one that finished before with the same '
                        'arguments (by default it is read back)')
    p.error = lambda message: p.exit(2, f'{p.prog}: error: {message}\n')
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
    runner.get_device(args.device)
    device = {} if args.device == '@numpy' else dict(device=args.device)
    dataset = args.dataset or ('digits' if args.quick else 'mnist')
    split_seed = script_module(DEEP).HYPERPARAMETERS['split_seed']
    split = utils.load_mnist(dataset=dataset, seed=split_seed, split='official' if (
        args.experiment == 'hinton' and dataset != 'digits') else 'random')
    official = args.out is None and split.name == 'mnist' and not args.quick
    out = args.out or (os.path.join(ROOT, 'figures') if official
                       else os.path.join('results', f'reproduce-{split.name}'))
    utils.check_writable_dir('out', out)
    runs = args.runs or (os.path.join(ROOT, 'results') if official else os.path.join(out, 'runs'))
    utils.check_writable_dir('runs', runs)
    data, labels = split
    command = ' '.join(['python reproduce.py', *(argv if argv is not None else sys.argv[1:])])
    with threadpool_limits(1):  # the probes and baselines too: the same numbers whatever --jobs
        if args.experiment == 'hinton':
            hinton(split, dataset, runs, out, args.jobs, args.quick, args.retrain, command,
                   official, device)
            return 0
        print(f'data: {split.name} from {data_source(split)}; {len(grid(args.quick))} runs and '
              f'3 baselines with --jobs {args.jobs}; runs in {runs}/{dataset}/, pictures to {out}/')
        results = run_all(data, labels, dataset, runs, out, args.jobs, args.quick, args.retrain,
                          device)
    body = table(results, split, data[0].shape[1], command, time.perf_counter() - t0, args.jobs)
    with utils.atomic_path(os.path.join(out, 'README.md')) as tmp, open(tmp, 'w') as f:
        f.write('# Results\n\n' + body)
    print(f'wrote {os.path.join(out, "README.md")}')
    if official:
        write_readme_section(os.path.join(ROOT, 'README.md'),
                             table(results, split, data[0].shape[1], command,
                                   time.perf_counter() - t0, args.jobs, pictures_prefix='figures/'))
        print('updated the Results section of README.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
