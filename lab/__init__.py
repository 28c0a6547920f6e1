"""The machinery behind the research scripts: one module for each job (docs/architecture.md).

compat       what Chainer 7.8.1 needs of NumPy 2 and Python 3.12+
kernels      fused kernels, where they are measured to pay
options      every option's check in one table; optimizers and activations by name
cli          a command's parser from its block, its errors in one line, its exit statuses
devices      devices and MPI communicators
files        atomic writes, failed writes as one error, JSON
trainer      what every trainer shares: devices, MPI, the optimizer, eval-mode losses
run          one run from its checked options to its written outputs
snapshots    snapshot files, resuming from them
lock         one process per run
signals      SIGINT and SIGTERM
progress     the progress bar inside an epoch
machine      the machine and stack a number was computed on
runs         runs as child processes, the probe of their codes
report       generated pages: templates, their JSON, the comparison rule
study        the Optuna study behind search.py
experiments  the experiments of reproduce.py

The package never imports a research script or a command: what it needs of them is passed in
(experiments/ may import the research scripts).
"""
