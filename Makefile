# make setup   create or update .venv with the pinned stack
# make run     train the autoencoder of autoencoder.py's __main__ block
# make test    run the test suite
# make bench   time training (benchmarks/bench.py)
#
# Chainer 7.8.1 is an sdist that imports pkg_resources while building, and
# pip's isolated build would fetch a setuptools without it; so the venv gets
# setuptools<82 and wheel first and Chainer is built with --no-build-isolation
# (works with old and new pip alike).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(None if (3, 9) <= v <= (3, 11) else "error: Python %d.%d found; Chainer 7.8.1 with NumPy 1.26 needs Python 3.9, 3.10 or 3.11 (make PYTHON=python3.11 ...)" % v)'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet 'setuptools<82' wheel
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
