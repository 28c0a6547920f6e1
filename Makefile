# make setup   create or update .venv with the locked stack, on the newest Python 3.10 to
#              3.13 found (PYTHON=python3.x names one; with none, uv brings a Python 3.13)
# make run     train the autoencoder of autoencoder.py's __main__ block
# make test    the quick tests (a few minutes): units, numerics, short runs on the digits
# make test-all   every test: servers, tmpfs, MPI, MNIST, set-up, whole experiments (CI's)
# make bench   time training against PyTorch and JAX (make bench-setup installs them), the
#              convolutional autoencoder too
# make dashboard   optuna-dashboard on http://127.0.0.1:8080 for search.py's studies
#              (STORAGE=<SQLAlchemy URL>, default sqlite:///results/search.db)
# make mpi-setup   Open MPI + mpi4py, for --communicator (data-parallel, ChainerMN)
# make bench-mpi   time 1 against 2 MPI processes
# make lock    re-resolve uv.lock and write requirements*.txt from it (needs uv)
#
# Chainer 7.8.1 is an sdist that imports pkg_resources while building, and
# pip's isolated build would fetch a setuptools without it; so the venv gets
# setuptools<74 (see requirements.txt) and wheel first, and Chainer is built
# with --no-build-isolation (works with old and new pip alike). uv builds it with
# the setuptools named in pyproject.toml.
#
# Python: 3.10 to 3.13 are tested (numba 0.68.1 needs 3.10; Chainer 7.8.1 imports on NumPy 2
# and Python 3.12+ through lab/compat.py, which make setup installs into the venv).
# python -m venv needs ensurepip, which Debian and Ubuntu ship apart (python3.x-venv).

SUPPORTED := (3, 10) <= sys.version_info[:2] <= (3, 13)
usable     = $(shell for p in $(1); do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not ($(SUPPORTED)))' 2>/dev/null && { command -v $$p; break; }; done)
PYTHON ?= $(call usable,python3.13 python3.12 python3.11 python3.10 python3)
UV     ?= $(shell command -v uv)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-all bench bench-setup mpi-setup bench-mpi clean lock dashboard dashboard-setup

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt uv.lock lab/compat.py
ifneq ($(strip $(PYTHON)),)
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(None if $(SUPPORTED) else "error: $(PYTHON) is Python %d.%d; this project installs on Python 3.10 to 3.13: name one with make setup PYTHON=python3.13, or leave PYTHON unset (the newest found is taken; with none, uv brings one)" % v)'
	@[ -x $(PY) ] || $(PYTHON) -c 'import ensurepip' 2>/dev/null || { v=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); echo "error: $(PYTHON) (Python $$v) cannot make a virtual environment: it lacks ensurepip; on Debian and Ubuntu: sudo apt install python$$v-venv" >&2; exit 2; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet 'setuptools<74' wheel
	$(PY) -m pip install --quiet --no-build-isolation -r requirements.txt -r requirements-dev.txt
else ifneq ($(strip $(UV)),)
	@echo "no Python 3.10 to 3.13 found: uv installs the locked environment on Python 3.13"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --python 3.13
	$(UV) pip install --quiet --python $(PY) pip
else
	@echo "error: no Python 3.10 to 3.13 found; install one (or uv, which brings Python 3.13 for the project: pipx install uv), then run make again" >&2
	@exit 2
endif
	$(PY) lab/compat.py install
	@touch $(STAMP)

run: setup
	$(PY) autoencoder.py

test: setup
	$(PY) -m pytest -q -m "not full"

test-all: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) results .pytest_cache

# uv.lock holds the exact versions; requirements*.txt are exported from it for pip.
EXPORT := --frozen --no-hashes --no-header --no-annotate --no-emit-project
lock:
	$(UV) lock
	{ grep '^#' requirements.txt; $(UV) export --no-dev $(EXPORT); } > requirements.txt.tmp
	{ grep '^#' requirements-dev.txt; $(UV) export --only-group dev $(EXPORT); } > requirements-dev.txt.tmp
	{ grep '^#' requirements-dashboard.txt; $(UV) export --only-group dashboard $(EXPORT); } > requirements-dashboard.txt.tmp
	mv requirements.txt.tmp requirements.txt && mv requirements-dev.txt.tmp requirements-dev.txt
	mv requirements-dashboard.txt.tmp requirements-dashboard.txt

bench: setup
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/conv_bench.py

# Optional: PyTorch, JAX and optax for the peer columns of `make bench`. torch 2.13 declares
# setuptools>=77, which it needs only to build C++ extensions and which breaks
# Chainer's import (see requirements.txt); so torch goes in without its declared
# dependencies, and the ones it imports are installed by name.
bench-setup: setup
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m pip install --quiet --no-deps torch==2.13.0
	$(PY) -m pip install --quiet filelock 'typing-extensions>=4.10' 'sympy>=1.13.3' 'networkx>=2.5.1' jinja2 'fsspec>=0.8.5'

# Optional: optuna-dashboard, to look at search.py's studies in a browser (localhost only).
DASHBOARD_STAMP := $(VENV)/.dashboard-installed
STORAGE ?= sqlite:///results/search.db

dashboard-setup: $(DASHBOARD_STAMP)

$(DASHBOARD_STAMP): requirements-dashboard.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements-dashboard.txt
	@touch $(DASHBOARD_STAMP)

dashboard: dashboard-setup
	$(VENV)/bin/optuna-dashboard --host 127.0.0.1 --port 8080 $(STORAGE)

# Optional: MPI for data-parallel training (ChainerMN ships with Chainer 7;
# it needs mpi4py). Debian's Open MPI via apt-get (as root, or with sudo), then
# mpi4py built against it.
MPI_STAMP := $(VENV)/.mpi-installed
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT       := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -y -q
MPI_DEBS  := openmpi-bin libopenmpi-dev

mpi-setup: $(MPI_STAMP)

$(MPI_STAMP): requirements-mpi.txt $(STAMP)
	@command -v mpicc >/dev/null && command -v mpiexec >/dev/null || $(APT) install $(MPI_DEBS) \
		|| { $(APT) update && $(APT) install $(MPI_DEBS); }
	$(PY) -m pip install --quiet --no-binary mpi4py -r requirements-mpi.txt
	@touch $(MPI_STAMP)

bench-mpi: mpi-setup
	$(PY) benchmarks/mpi_scaling.py
