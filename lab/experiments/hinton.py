"""Hinton & Salakhutdinov's (Science 2006) deep autoencoder, and beyond it
(reproduce.py --experiment hinton, --experiment hinton-seeds).

--experiment hinton: their 784-1000-500-250-30 autoencoder on MNIST's own 60,000/10,000
split, pretrained greedily with denoising autoencoders and fine-tuned on the cross-entropy
(HINTON below), the same network from random initial weights, PCA-30, and a 784-1000-500-250-2
network for the paper's Figure 3: a table beside the paper's 3.00 and 13.87,
figures/hinton_*.png, figures/hinton.md and figures/hinton.json. Beyond the paper, chosen on a
validation split (MNIST's first 50,000 training images; its last 10,000 to validate): a
regulariser for the pretrained network (REGULARISERS), and the learning rate of Sutskever et
al.'s (2013) recipe without pretraining (SPARSE_NESTEROV, LEARNING_RATES); each choice is
then trained on MNIST's own split and tested once.

--experiment hinton-seeds: the table's two main rows (SEEDED_ROWS) over several seeds,
figures/hinton_seeds.md and hinton_seeds.json. Both resume: rerun the same command.
"""
import os

import numpy as np

import deep_autoencoder
import utils
from lab import report
from lab.machine import computed_on
from lab.run import inference
from lab.children import (Script, codes, copy_pictures, measured_run, pca_baseline, run_tasks,
                      seeded)

DEEP = Script(deep_autoencoder)

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


def hinton_row(ctx, role, label, options, pictures=False):
    """One network of the Hinton experiment: its run (printed line by line), its errors,
    probe, test codes, reconstructions of the examples and, with `pictures`, its filters."""
    sizes, (data, labels) = options['n_hidden_layers'], ctx.split
    tag = f'{"-".join(map(str, sizes))} {"random init" if options.get("no_pretraining") else "pretrained"}'
    run, model, measures = measured_run(ctx, DEEP, options, tag=tag)
    record, a = run['record'], run['record']['arguments']
    return dict(measures, kind='hinton', role=role, label=label,
                pretraining=not a['no_pretraining'], sizes=list(sizes), code=sizes[-1],
                pretrain=0 if a['no_pretraining'] else a['pretrain_epoch'],
                finetune=a['finetune_epoch'], train_curve=record['loss_values'],
                updates=updates(record, a), epoch_seconds=record['seconds_per_epoch'],
                test_codes=model and codes(model, data[1]),  # None: it diverged
                reconstructions=model and inference(model, data[1][examples(labels)]),
                pictures=copy_pictures(run, model.weight_pictures(), ctx.out)
                if pictures and model else [],
                arguments=a, computed_on=computed_on(record))


def examples(labels):
    """The first test image of each class, in class order (the columns of Figure 2)."""
    return [int(np.flatnonzero(labels[1] == c)[0]) for c in np.unique(labels[1])]


def validation_row(ctx, group, label, options):
    """A candidate on the validation split: its errors after every epoch and its command."""
    _, _, m = measured_run(ctx, DEEP, options, tag=f'validation, {group}: {label}',
                           probe_codes=False)
    return dict(kind='validation', group=group, label=label, options=options,
                command=m['command'], name=m['name'], cached=m['cached'], curve=m['test_curve'],
                train=m['train_mse'], error=m['test_mse'], seconds=m['seconds'])


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


def hinton_tasks(ctx):
    """(label, function, keyword arguments) of every run and baseline, and of the validation
    runs."""
    data, labels = ctx.split
    codes_sizes = [options['n_hidden_layers'][-1] for _, _, options in HINTON_RUNS]
    return ([net_task(ctx, role, label, options) for role, label, options in HINTON_RUNS]
            + [validation_task(ctx, group, label, options) for group, label, options in candidates()]
            + [(f'baseline: PCA-{k}', pca_baseline,
                dict(k=k, data=data, labels=labels, shown=examples(labels)))
               for k in sorted(set(codes_sizes), reverse=True)])


def net_task(ctx, role, label, options):
    """The task of one network of the Hinton table (the pretrained one draws its filters)."""
    return (f'hinton: {label}', hinton_row, dict(ctx=ctx, role=role, label=label, options=(
        hinton_options(options, ctx.quick)), pictures=role == 'pretrained'))


def validation_task(ctx, group, label, options):
    """The task of one candidate on the validation split."""
    return (f'validation, {group}: {label}', validation_row, dict(
        ctx=ctx, group=group, label=label, options=hinton_options(options, ctx.quick)))


def chosen(results, group):
    """The validation run of `group` with the lowest validation error after its last epoch
    (a run that diverged to NaN is never chosen)."""
    runs = [r for r in results if r['kind'] == 'validation' and r['group'] == group]
    return min(runs, key=lambda r: r['error'] if np.isfinite(r['error']) else np.inf)


def chosen_tasks(ctx, results):
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
    return [net_task(ctx, role, label, options) for role, label, options in rows]


CURVES = [  # (role, legend) of the learning curves drawn, in order
    ('pretrained', 'pretrained'),
    ('regularised', 'pretrained, regularised'),
    ('random', 'random (LeCun normal), Adam'),
    ('sparse', 'random (sparse), Nesterov'),
]


def hinton_pictures(results, data, labels, out):
    """Figure 2 (test images, their reconstructions), Figure 3 (2-D codes against the first two
    principal components) and the learning curves, into `out`; their file names."""
    nets = {r['role']: r for r in results if r['kind'] == 'hinton'}
    deep, random_init, deep2 = nets['pretrained'], nets['random'], nets['code2']
    pca, pca2 = (r for r in results if r['kind'] == 'pca')
    n_inputs = data[1].shape[1]
    names = ['hinton_reconstructions.png', 'hinton_codes.png', 'hinton_curves.png']

    rows = [data[1][examples(labels)], deep['reconstructions'], random_init['reconstructions'],
            pca['reconstructions']]
    utils.save_images(np.clip(np.concatenate(rows), 0, 1), os.path.join(out, names[0]),
                      ncols=len(rows[0]), scale_each=False)

    with report.figure(os.path.join(out, names[1]), ncols=2, figsize=(12, 5.6)) as (fig, axes):
        for ax, codes_2d, title in ((axes[0], pca2['test_codes'], 'PCA: first two components'),
                                    (axes[1], deep2['test_codes'], 'deep autoencoder '
                                     + '-'.join(map(str, [n_inputs, *deep2['sizes']])))):
            points = ax.scatter(codes_2d[:, 0], codes_2d[:, 1], c=labels[1], cmap='tab10', s=2,
                                vmin=-.5, vmax=9.5, rasterized=True)
            ax.set(title=title, xticks=[], yticks=[])
        fig.colorbar(points, ax=axes, ticks=range(10), label='digit')

    with report.figure(os.path.join(out, names[2]), figsize=(8, 5)) as (fig, ax):
        for role, label in CURVES:
            if role not in nets:
                continue
            r = nets[role]
            epochs = np.arange(1, len(r['test_curve']) + 1)
            line, = ax.plot(epochs, np.asarray(r['test_curve']) * n_inputs,
                            label=f'{label}, test')
            ax.plot(epochs, np.asarray(r['train_curve']) * n_inputs, ':', color=line.get_color(),
                    label=f'{label}, train')
        ax.axhline(PAPER['deep'], color='k', lw=.8, ls='--', label=f'paper: {PAPER["deep"]:.2f}')
        ax.axhline(GOAL, color='k', lw=.8, ls=':', label=f'goal: {GOAL:.2f}')
        ax.axhline(pca['test_mse'] * n_inputs, color='grey', lw=.8,
                   label=f'PCA-{pca["k"]}, this split')
        ax.set(yscale='log', xlabel='fine-tuning epoch',
               ylabel='squared error per image (eval mode)')
        ax.legend(fontsize='small')
    return names


def hinton_report(ctx, results, pictures):
    """Everything the Hinton experiment's report says, computed (JSON-able, hinton.json);
    templates/hinton.md.j2 turns it into words."""
    n_inputs, jobs = ctx.split[0][0].shape[1], ctx.jobs
    roles = {r['role']: r for r in results if r['kind'] == 'hinton'}
    nets = [roles[role] for role in ROLES if role in roles]
    goal = PAPER['deep'] / PAPER['pixels']  # the paper's error, per pixel
    validation = [r for r in results if r['kind'] == 'validation']
    best = {group: chosen(validation, group)['label'] for group in ('regulariser', 'learning rate')
            } if validation else {}
    recon, codes_2d, curves = pictures
    return report.plain(dict(
        header=report.header(ctx.command, ctx.seconds(), jobs, nets), data=report.data(ctx.split),
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


def run(ctx):
    """--experiment hinton, for reproduce.py's context ctx: its runs, pictures,
    figures/hinton.md and hinton.json."""
    data, labels = ctx.load(DEEP.defaults['split_seed'], 'official')
    tasks = hinton_tasks(ctx)
    print(f'data: {ctx.split.name} from {report.data_source(ctx.split)}; {len(tasks)} runs with '
          f'--jobs {ctx.jobs}; runs in {ctx.runs}/{ctx.dataset}/, pictures to {ctx.out}/')
    results = run_tasks(tasks, ctx.jobs)
    results += run_tasks(chosen_tasks(ctx, results), ctx.jobs)
    pictures = hinton_pictures(results, data, labels, ctx.out)
    report.write_page(os.path.join(ctx.out, 'hinton.md'), 'hinton.md.j2',
                      hinton_report(ctx, results, pictures), prefix='',
                      title='# Hinton & Salakhutdinov\'s deep autoencoder\n\n')
    return results


def per_seed(runs, n):
    """Each run's errors per image, probe, minutes and machine, in the order of their seeds,
    and the mean ± sd of the test error and the probe over them."""
    seeds_ = [dict(seed=r['seed'], test=r['test_mse'] * n, train=r['train_mse'] * n,
                   probe=r['probe'], computed_on=r['computed_on'], minutes=r['seconds'] / 60)
              for r in sorted(runs, key=lambda r: r['seed'])]
    return seeds_, report.summarise(seeds_, ('test', 'probe'))


def run_seeds(ctx):
    """--experiment hinton-seeds, for reproduce.py's context ctx: SEEDED_ROWS over ctx.seeds
    seeds (deep_autoencoder.py's own and the ones after it), figures/hinton_seeds.md and
    hinton_seeds.json."""
    data, labels = ctx.load(DEEP.defaults['split_seed'], 'official')
    tasks = [(f'hinton: {label}' + (f', seed {o["seed"]}' if 'seed' in o else ''), hinton_row,
              dict(ctx=ctx, role=role, label=label, options=hinton_options(o, ctx.quick)))
             for role, label, options in SEEDED_ROWS for o in seeded(DEEP, options, ctx.seeds)]
    print(f'data: {ctx.split.name} from {report.data_source(ctx.split)}; {len(tasks)} runs with '
          f'--jobs {ctx.jobs}; runs in {ctx.runs}/{ctx.dataset}/, the page to {ctx.out}/')
    results = run_tasks(tasks, ctx.jobs)
    n, rows = data[0].shape[1], []
    for role, label, _ in SEEDED_ROWS:
        runs = [r for r in results if r['role'] == role]
        seeds_, stats = per_seed(runs, n)
        rows.append(dict(role=role, label=label, command=runs[0]['command'], mean=stats['test'],
                         sd=stats['test_sd'], probe=stats['probe'], probe_sd=stats['probe_sd'],
                         one_stack=len({r['computed_on'] for r in runs}) == 1, seeds=seeds_))
    one_seed = any(r['sd'] is None for r in rows)
    numbers = report.plain(dict(
        header=report.header(ctx.command, ctx.seconds(), ctx.jobs, results),
        data=report.data(ctx.split), paper=PAPER, rows=rows,
        apart=None if one_seed else report.apart(*((r['mean'], r['sd']) for r in rows)),
        probe_apart=None if one_seed else report.apart(*((r['probe'], r['probe_sd'])
                                                         for r in rows)),
        below_paper=[None if r['sd'] is None else r['mean'] + 2 * r['sd'] < PAPER['deep']
                     for r in rows]))
    report.write_page(os.path.join(ctx.out, 'hinton_seeds.md'), 'hinton_seeds.md.j2', numbers)
    return results
