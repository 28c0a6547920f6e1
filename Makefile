# make setup   create or update .venv with the pinned stack
# make run     train the autoencoder of autoencoder.py's __main__ block
# make test    run the test suite
# make bench   time training against PyTorch (make bench-setup installs torch and numexpr)
# make mpi-setup   Open MPI + mpi4py, for --communicator (data-parallel, ChainerMN)
# make bench-mpi   time 1 against 2 MPI processes
#
# Chainer 7.8.1 is an sdist that imports pkg_resources while building, and
# pip's isolated build would fetch a setuptools without it; so the venv gets
# setuptools<74 (see requirements.txt) and wheel first, and Chainer is built
# with --no-build-isolation (works with old and new pip alike).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench bench-setup mpi-setup bench-mpi clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(None if (3, 9) <= v <= (3, 11) else "error: Python %d.%d found; Chainer 7.8.1 with NumPy 1.26 needs Python 3.9, 3.10 or 3.11 (make PYTHON=python3.11 ...)" % v)'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet 'setuptools<74' wheel
	$(PY) -m pip install --quiet --no-build-isolation -r requirements.txt -r requirements-dev.txt
	@touch $(STAMP)

run: setup
	$(PY) autoencoder.py

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) results .pytest_cache

bench: setup
	$(PY) benchmarks/bench.py

# Optional: PyTorch for the peer rows of `make bench`. torch 2.13 declares
# setuptools>=77, which it needs only to build C++ extensions and which breaks
# Chainer's import (see requirements.txt); so torch goes in without its declared
# dependencies, and the ones it imports are installed by name.
bench-setup: setup
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m pip install --quiet --no-deps torch==2.13.0
	$(PY) -m pip install --quiet filelock 'typing-extensions>=4.10' 'sympy>=1.13.3' 'networkx>=2.5.1' jinja2 'fsspec>=0.8.5'

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
