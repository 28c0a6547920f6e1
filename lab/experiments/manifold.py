"""The post's manifold question: MNIST's test images in two dimensions, four ways
(reproduce.py --experiment manifold).

The 10,000 test images of MNIST's own split, each method's 2-D code of them:
- PCA-2, fitted on the training images (deterministic: no seeds);
- the deep autoencoder 784-1000-500-250-2 (Hinton & Salakhutdinov's Figure 3): the project's
  Hinton recipe (pretrained, cross-entropy, Adam) with at most 200 fine-tuning epochs, its
  learning-rate decay and weight decay chosen between CANDIDATES on the validation split (the
  lower validation error after the last epoch), then trained with deep_autoencoder.py's own
  seed and the ones after it (--seeds, default 3);
- the VAE of variational_autoencoder.py with a 2-D latent space (its mean code), its own seed
  and the ones after it;
- t-SNE (scikit-learn, perplexity 30, PCA initialisation), which has no map for new images and
  is fitted on the test images themselves: a reference that sees the set it is scored on, over
  as many seeds.
One protocol scores them all: the leave-one-out k-nearest-neighbour accuracy among the 10,000
test codes (Euclidean; k = 1 and 5; a tie among k = 5 votes goes to the smallest digit, as
scikit-learn's KNeighborsClassifier breaks it); the same for PCA-30 and the raw pixels says what
two dimensions lose. Beside it, the reconstruction error per image (squared error summed over
the pixels) of the three that reconstruct, the linear probe, and how the codes spread (the sd
of each axis; the share within the disc that holds 95% of N(0, I): the VAE's prior).
figures/manifold.md (templates/manifold.md.j2) with manifold.json, the four scatters side by
side (manifold_codes.png) and the decoded manifolds of the two that decode: the autoencoder's
over its codes' range (the 1st to 99th percentile of each axis), the VAE's at the Gaussian's
quantiles (manifold_dae.png, manifold_vae.png; the first seed of each).
"""
import math
import os

import numpy as np

import deep_autoencoder
import variational_autoencoder
from lab import report
from lab.children import Script, codes, measured_run, pca_baseline, run_tasks, seeded
from lab.experiments.hinton import HINTON, chosen, hinton_options, validation_task
from lab.run import inference

DEEP, VAE = Script(deep_autoencoder), Script(variational_autoencoder)
CODE2 = dict(HINTON, n_hidden_layers=[1000, 500, 250, 2], finetune_epoch=200)
# The regularised recipe of figures/hinton.md (lr x 0.987 an epoch, weight decay 3e-7), and the
# longer schedule's weight decay 2e-7 of figures/hinton_schedule.md with its decay compressed
# into 200 epochs (0.989^200 is about 0.996^540: the learning rate ends where that one's did).
CANDIDATES = [(f'lr decay {d:g}, weight decay {wd:g}', dict(CODE2, lr_decay=d, weight_decay=wd))
              for d, wd in ((.987, 3e-7), (.989, 2e-7))]
VAE2 = dict(split='official', n_latent=2)
KS = (1, 5)
DISC = math.sqrt(-2 * math.log(.05))  # the radius within which N(0, I) in 2-D puts 95%


def neighbours(x, labels, k):
    """Leave-one-out k-nearest-neighbour accuracy among the rows of x (each row's own label left
    out of its vote)."""
    from sklearn.neighbors import NearestNeighbors
    votes = labels[NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)]
    classes = np.unique(labels)
    predicted = classes[(votes[:, :, None] == classes).sum(1).argmax(1)]
    return float(np.mean(predicted == labels))


def measures(x, labels):
    """What the protocol says of codes x: the k-NN accuracies, the axes' sd, the share in DISC."""
    return dict(**{f'knn{k}': neighbours(x, labels, k) for k in KS},
                **(dict(sd=[float(s) for s in x.std(0)],
                        disc=float(np.mean(np.hypot(*x.T) <= DISC)))
                   if x.shape[1] == 2 else dict(sd=None, disc=None)))


def net_row(ctx, method, script, options):
    """A seeded network's run (trained, read back or resumed), its test codes and measures."""
    (_, x_test), (_, y_test) = ctx.split
    run, model, m = measured_run(ctx, script, options, tag=f'{method}, seed '
                                 f'{options.get("seed", script.defaults["seed"])}')
    z = None if model is None else codes(model, x_test)
    nan = dict(dict.fromkeys(('knn1', 'knn5', 'disc'), float('nan')), sd=None)  # diverged
    return dict(m, method=method, model=model, codes=z, error=m['test_mse'] * x_test.shape[1],
                **(nan if z is None else measures(z, y_test)))


def tsne_row(ctx, seed):
    """t-SNE of the test images, fitted on them (a reference: no map for new images)."""
    from sklearn.manifold import TSNE
    (_, x_test), (_, y_test) = ctx.split
    z = TSNE(2, perplexity=min(30., (len(x_test) - 1) / 3), init='pca',
             random_state=seed).fit_transform(x_test)
    return dict(method='t-SNE', seed=seed, codes=z, model=None, **measures(z, y_test))


def pca_row(ctx, k):
    """PCA-k fitted on the training images (lab.children.pca_baseline): its test codes, their
    measures, its error per image and the probe."""
    (_, x_test), labels = ctx.split
    pca = pca_baseline(k, ctx.split[0], labels)
    return dict(method=f'PCA-{k}', seed=None, codes=pca['test_codes'], model=None,
                error=pca['test_mse'] * x_test.shape[1], probe=pca['probe'],
                **measures(pca['test_codes'], labels[1]))


NETWORK = ('knn1', 'knn5', 'error', 'probe', 'disc')
KEYS = {'PCA-2': NETWORK, 'deep autoencoder': NETWORK, 'VAE': NETWORK,
        't-SNE': ('knn1', 'knn5', 'disc')}  # each method's measures, in the page's order
COMPARED = (('deep autoencoder', 'PCA-2'), ('deep autoencoder', 't-SNE'), ('VAE', 'PCA-2'),
            ('VAE', 'deep autoencoder'), ('VAE', 't-SNE'))


def run(ctx):
    """The experiment, for reproduce.py's context ctx."""
    (_, x_test), (_, y_test) = ctx.load(DEEP.defaults['split_seed'], 'official')
    validation = run_tasks([validation_task(ctx, 'manifold', label, dict(o, split='validation'))
                            for label, o in CANDIDATES], ctx.jobs)
    choice = chosen(validation, 'manifold')
    deep = [hinton_options(o, ctx.quick) for o in seeded(DEEP, dict(CANDIDATES)[choice['label']],
                                                         ctx.seeds)]
    vae = seeded(VAE, dict(VAE2, epoch=2, n_hidden=50, split='random') if ctx.quick else VAE2,
                 ctx.seeds)
    runs = run_tasks(
        [(f'{method}, {i}', net_row, dict(ctx=ctx, method=method, script=script, options=o))
         for method, script, options in (('deep autoencoder', DEEP, deep), ('VAE', VAE, vae))
         for i, o in enumerate(options, 1)]
        + [(f't-SNE, seed {s}', tsne_row, dict(ctx=ctx, seed=s)) for s in range(ctx.seeds)]
        + [('PCA-2', pca_row, dict(ctx=ctx, k=2))], ctx.jobs)
    rows = {method: dict(report.over_seeds([r for r in runs if r['method'] == method], keys)[0],
                         seeds=[r['seed'] for r in runs if r['method'] == method])
            for method, keys in KEYS.items()}
    findings = [dict(a=a, b=b, key=k, higher=rows[a][k] > rows[b][k], apart=report.apart(
        *((rows[m][k], rows[m].get(f'{k}_sd') or 0.) for m in (a, b))))
        for a, b in COMPARED for k in ('knn1', 'knn5')]
    references = [pca_row(ctx, 30),
                  dict(method='raw pixels', **measures(x_test, y_test))]
    report.write_page(os.path.join(ctx.out, 'manifold.md'), 'manifold.md.j2', report.plain(dict(
        header=report.header(ctx.command, ctx.seconds(), ctx.jobs, validation + runs),
        data=report.data(ctx.split), disc=DISC, ks=KS, choice=choice['label'],
        candidates=[dict(label=r['label'], command=r['command'], chosen=r is choice,
                         error=r['error'] * x_test.shape[1]) for r in validation],
        pictures=draw(ctx, list(rows.values()), y_test), findings=findings,
        rows=[{k: v for k, v in r.items() if k not in ('model', 'codes', 'test_curve')}
              for r in [*rows.values(), *references]])))


def draw(ctx, rows, labels, side=20):
    """The four scatters side by side, one colour a digit (the first seed of each), and the
    decoded manifolds: the autoencoder's over its codes' 1st to 99th percentiles, the VAE's at
    the Gaussian's quantiles (side x side each); their file names."""
    import utils
    names = dict(codes='manifold_codes.png')
    with report.figure(os.path.join(ctx.out, names['codes']), ncols=len(rows),
                       figsize=(5 * len(rows), 5.4)) as (fig, axes):
        for ax, row in zip(axes, rows):
            seed = '' if row['seed'] is None else f', seed {row["seed"]}'
            ax.set_title(f'{row["method"]}{seed}' + (': diverged' if row['codes'] is None else ''))
            ax.set(xticks=[], yticks=[])
            if row['codes'] is not None:
                points = ax.scatter(*row['codes'].T, c=labels, cmap='tab10', vmin=-.5, vmax=9.5,
                                    s=1, alpha=.6, rasterized=True)
        fig.colorbar(points, ax=axes, ticks=range(10), label='digit', fraction=.015)
    deep, vae = rows[1]['model'], rows[2]['model']
    if deep is not None:
        lo, hi = np.percentile(rows[1]['codes'], [1, 99], axis=0)
        q1, q2 = (np.linspace(a, b, side) for a, b in zip(lo, hi))
        lattice = np.array([(a, b) for b in q2[::-1] for a in q1], np.float32)
        names['dae'] = 'manifold_dae.png'
        utils.save_images(inference(deep.decode, lattice), os.path.join(ctx.out, names['dae']),
                          scale_each=False)
    if vae is not None:
        names['vae'] = 'manifold_vae.png'
        utils.save_images(vae.weight_pictures(side)['manifold.png'].rows,
                          os.path.join(ctx.out, names['vae']), scale_each=False)
    return names
