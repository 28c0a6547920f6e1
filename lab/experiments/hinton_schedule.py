"""A longer schedule for Hinton & Salakhutdinov's network, chosen on the validation split
(reproduce.py --experiment hinton-schedule).

1. The candidates (SCHEDULES): the regularised row of figures/hinton.md (weight decay), its
   learning rate times 0.996 after every epoch for 540 fine-tuning epochs, weight decay 2e-7
   and 3e-7, each on the validation split (MNIST's first 50,000 training images, measured on
   the last 10,000; the test set unused). The lowest validation error after the last epoch is
   chosen, as figures/hinton.md's choices are.
2. The chosen recipe alone on MNIST's own split, with deep_autoencoder.py's own seed and the
   ones after it (--seeds, default 3), each tested once.
3. figures/hinton_schedule.md (templates/hinton_schedule.md.j2) with hinton_schedule.json
   beside it and the curves (figures/hinton_schedule_curves.png: the candidates' validation
   error and the seeds' test error after every fine-tuning epoch): every
   candidate, the choice, every seed's errors, probe, minutes and machine, mean ± sd, and the
   comparison, by the project's rule (mean ± 2 sd), with the table's two rows over seeds
   (read from figures/hinton_seeds.json, not trained again), the paper's 3.00 and the lowest
   test figure published for this network that we know of, Martens' (ICML 2010) 2.46 with
   pretraining and Hessian-free optimisation (not verified: read from the issue that asked
   for this, not from the paper).
The runs take hours each; rerun the same command to go on.
"""
import os

import numpy as np

from lab import report
from lab.files import read_json
from lab.experiments.hinton import (DEEP, HINTON, PAPER, chosen, hinton_options, hinton_row,
                                    per_seed, validation_task)
from lab.children import run_tasks, seeded

SCHEDULE = dict(lr_decay=.996, finetune_epoch=540)  # the learning rate's, and the epochs
SCHEDULES = [(f'weight decay {wd:g}', dict(HINTON, **SCHEDULE, weight_decay=wd))
             for wd in (2e-7, 3e-7)]
MARTENS = dict(error=2.46, verified=False)  # Martens (ICML 2010), Table 1, per test image
GOAL = dict(below=MARTENS['error'], every_seed=2.50)  # mean + 2 sd below it; each seed at most


def run(ctx):
    """The experiment, for reproduce.py's context ctx."""
    data, labels = ctx.load(DEEP.defaults['split_seed'], 'official')
    validation = run_tasks([validation_task(ctx, 'schedule', label, dict(options, split='validation'))
                            for label, options in SCHEDULES], ctx.jobs)
    choice = chosen(validation, 'schedule')
    tested = run_tasks([
        (f'{choice["label"]}, seed {o.get("seed", DEEP.defaults["seed"])}', hinton_row, dict(
            ctx=ctx, role='schedule', label=choice['label'], options=hinton_options(o, ctx.quick)))
        for o in seeded(DEEP, dict(SCHEDULES)[choice['label']], ctx.seeds)], ctx.jobs)
    n = data[0].shape[1]
    curves = curves_figure(validation, tested, n,
                           os.path.join(ctx.out, 'hinton_schedule_curves.png'))
    report.write_page(os.path.join(ctx.out, 'hinton_schedule.md'), 'hinton_schedule.md.j2',
                      page_numbers(ctx, validation, choice, tested, n, curves))


def page_numbers(ctx, validation, choice, tested, n, curves):
    """Everything the page says, computed (hinton_schedule.json)."""
    tested = sorted(tested, key=lambda r: r['seed'])
    seeds_, stats = per_seed(tested, n)
    mean, sd = stats['test'], stats['test_sd']
    today = today_row(ctx.out)
    return report.plain(dict(
        header=report.header(ctx.command, ctx.seconds(), ctx.jobs, validation + tested),
        data=report.data(ctx.split), paper=PAPER, martens=MARTENS, goal=GOAL, schedule=SCHEDULE,
        curves=curves,
        candidates=[dict(label=r['label'], command=r['command'], error=r['error'] * n,
                         train=r['train'] * n, epochs=len(r['curve']),
                         chosen=r['label'] == choice['label'], minutes=r['seconds'] / 60)
                    for r in validation],
        choice=choice['label'], command=tested[0]['command'],
        mean=mean, sd=sd, probe=stats['probe'], probe_sd=stats['probe_sd'], seeds=seeds_,
        today=today, versus_today=None if sd is None or today is None else report.apart(
            (mean, sd), (today['mean'], today['sd'])),
        below=None if sd is None else {key: report.below(stats, 'test', value) for key, value in (
            ('paper', PAPER['deep']), ('martens', MARTENS['error']))},
        goal_reached=None if sd is None else bool(
            report.below(stats, 'test', GOAL['below'])
            and max(s['test'] for s in seeds_) <= GOAL['every_seed'])))


def today_row(out):
    """The regularised row of figures/hinton_seeds.json (weight decay 3e-7, the table's
    schedule) over its seeds, as recorded there: {label, mean, sd, seeds}; None without it."""
    path = os.path.join(out, 'hinton_seeds.json')
    if not os.path.exists(path):
        return None
    rows = {r['role']: r for r in read_json(path)['rows']}
    row = rows.get('regularised')
    return row and dict(label=row['label'], mean=row['mean'], sd=row['sd'],
                        seeds=[s['seed'] for s in row['seeds']], command=row['command'])


def curves_figure(validation, tested, n, path):
    """Each candidate's validation error per image after every fine-tuning epoch, and each
    seed's test error of the chosen one (dashed), one PNG; its file name."""
    with report.figure(path, figsize=(8, 5)) as (fig, ax):
        for r in validation:
            ax.plot(np.arange(1, len(r['curve']) + 1), np.asarray(r['curve']) * n,
                    label=f"{r['label']}: validation")
        for r in tested:  # in the seeds' order, as run_tasks returns them
            ax.plot(np.arange(1, len(r['test_curve']) + 1), np.asarray(r['test_curve']) * n,
                    ls='--', lw=1, label=f"{r['label']}, seed {r['seed']}: test")
        if n == PAPER['pixels']:
            ax.axhline(MARTENS['error'], color='k', lw=.8, ls=':',
                       label=f'Martens 2010, test: {MARTENS["error"]:.2f} (not verified)')
        ax.set(yscale='log', xlabel='fine-tuning epoch', ylabel='error per image (eval mode)')
        ax.legend(fontsize='small')
    return os.path.basename(path)
