"""Re-run the original write-up's experiments into figures/, and answer what it could not.

    MNIST_DIR=~/data/mnist python reproduce.py --jobs 2   # the committed figures/
    python reproduce.py --quick                          # the same grid, tiny, on digits

    MNIST_DIR=~/data/mnist python reproduce.py --experiment hinton --jobs 3   # hours

Every row of every experiment is a command: reproduce.py runs `python autoencoder.py ...` or
`python deep_autoencoder.py ...` with the row's options (the rest are the scripts'
HYPERPARAMETERS), each on one BLAS thread so that the numbers do not depend on --jobs, and writes
that command beside the row. The runs go where the commands put them (results/<dataset>/, or
RUNS with --runs); a run that finished before with the same arguments is read back instead of
trained again (--retrain trains it anew), an interrupted one continues from its snapshot, and
one that another process is training is waited for. Each experiment computes its numbers,
records them as JSON beside its page and renders the page from a template
(lab/experiments/templates/): the code computes, the templates say. A line is printed as each
run starts and as it ends.

The experiments, one module each in lab/experiments/:
  original      the original's grid and our additions, each row over --seeds seeds (grid.py;
                about an hour with --jobs 2)
  hinton        Hinton & Salakhutdinov's 784-1000-500-250-30 network on MNIST's own split,
                and beyond (hinton.py; hours: rerun the same command to go on)
  hinton-seeds  that table's two main rows over --seeds seeds (hinton.py)
  hinton-schedule  a longer schedule for that network, chosen on the validation split, over
                --seeds seeds (hinton_schedule.py)
  search        search.py's study of autoencoder.py (--n-trials), its best settings retrained
                over --seeds seeds (search.py)
  conv          conv_autoencoder.py beside autoencoder.py at the same settings (conv.py)
  sparsity      autoencoder.py's sparse code, at the grid's relu and sigmoid settings, over
                --seeds seeds (sparsity.py)
  manifold      MNIST's test images in two dimensions: PCA, the deep autoencoder, the VAE and
                t-SNE, scored by their nearest neighbours, over --seeds seeds (manifold.py;
                hours)
"""
import argparse
import os
import sys
import time

from lab import cli, devices, options
from lab.files import check_writable_dir

ROOT = os.path.dirname(os.path.abspath(__file__))
EXPERIMENTS = {  # name: (its module in lab/experiments, its function, its default --seeds)
    'original': ('grid', 'run', 5), 'hinton': ('hinton', 'run', 1),
    'hinton-seeds': ('hinton', 'run_seeds', 3), 'hinton-schedule': ('hinton_schedule', 'run', 3),
    'search': ('search', 'run', 5), 'conv': ('conv', 'run', 5), 'sparsity': ('sparsity', 'run', 5),
    'manifold': ('manifold', 'run', 3)}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                    argparse.RawDescriptionHelpFormatter):
    """The options with their defaults, the experiments' list as the docstring has it."""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog='reproduce.py', description=__doc__.split('\n')[0],
                                epilog=__doc__[__doc__.index('The experiments'):],
                                formatter_class=HelpFormatter)
    p.add_argument('--experiment', choices=EXPERIMENTS, default='original',
                   help='one of the experiments below')
    p.add_argument('--quick', action='store_true',
                   help='the same runs with a tenth of the epochs on the bundled 8x8 digits '
                        '(hinton: 1 and 2 epochs, on a random split)')
    p.add_argument('--jobs', type=int, default=1, help='runs in parallel processes')
    p.add_argument('--seeds', type=int, default=None,
                   help="each row's runs: its script's own seed and the ones after it; the "
                        "tables give their mean and standard deviation (default: original 5, "
                        "hinton-seeds 3, search 5, manifold 3; 2 with --quick)")
    p.add_argument('--n-trials', type=int, default=60,
                   help="search: the study's finished trials")
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
    cli.prepare(p)
    args = p.parse_args(argv)
    from lab.children import stop_processes
    return cli.guarded(p, lambda: experiment(args, argv), cleanup=stop_processes,
                       again='; run the same command again to continue')


class Context:
    """What an experiment is given (`ctx`): the parsed options, the data, where to write, the
    command; `writes_figures`: it writes figures/ and the README's blocks."""

    def __init__(self, args, argv):
        self.__dict__.update(vars(args))
        self.t0, self.root = time.perf_counter(), ROOT
        options.check_int('jobs', args.jobs)
        self.seeds = options.check_int('seeds', (2 if args.quick else EXPERIMENTS[
            args.experiment][2]) if args.seeds is None else args.seeds)
        options.check_int('n_trials', args.n_trials)
        devices.get_device(args.device)
        self.device = {} if args.device == '@numpy' else dict(device=args.device)
        self.dataset = args.dataset or ('digits' if args.quick else 'mnist')
        self.writes_figures = args.out is None and self.dataset == 'mnist' and not args.quick
        default = 'search' if args.experiment == 'search' else 'reproduce'
        self.out = check_writable_dir('out', args.out or (
            os.path.join(ROOT, 'figures') if self.writes_figures
            else os.path.join('results', f'{default}-{self.dataset}')))
        self.runs = check_writable_dir('runs', args.runs or (
            os.path.join(ROOT, 'results') if self.writes_figures else os.path.join(self.out, 'runs')))
        self.command = ' '.join(['python reproduce.py', *argv])

    def load(self, split_seed, split):
        """The data as the experiment's runs split them (`split`: 'random', the original's, or
        'official', MNIST's own; the digits always at random); `split_seed`: the scripts'."""
        import utils
        self.split = utils.load_mnist(dataset=self.dataset, seed=split_seed, split=(
            'random' if self.dataset == 'digits' else split))
        return self.split

    def seconds(self):
        return time.perf_counter() - self.t0


def experiment(args, argv):
    """Check the options, load the data, run the experiment: its pages and pictures."""
    import importlib

    from threadpoolctl import threadpool_limits
    ctx = Context(args, argv)
    module, function, _ = EXPERIMENTS[args.experiment]
    experiment = getattr(importlib.import_module(f'lab.experiments.{module}'), function)
    with threadpool_limits(1):  # the probes and baselines too: the same numbers whatever --jobs
        experiment(ctx)


if __name__ == '__main__':
    sys.exit(main())
