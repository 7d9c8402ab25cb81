# Two commands for a fresh machine (see README): `make demo` and `make test`.
# Both create and use a local virtualenv in .venv (override with VENV=...).
VENV ?= .venv
PYTHON ?= python3
# Ground-truth fixtures (release outputs, pyflow flows): the repository's copy by default.
FIXTURES ?= tests/fixtures
# pytest-xdist workers for `make test` (most of a test's time is single-threaded XLA compilation,
# so two workers keep two cores busy; each worker uses up to ~4 GiB).
TEST_WORKERS ?= 2
PY := $(VENV)/bin/python
# jax2onnx goes in without its declared dependencies (see the export extra in pyproject.toml).
JAX2ONNX_VERSION := $(shell sed -n 's/^jax2onnx = "\(.*\)"/\1/p' pyproject.toml)
# XLA's CUDA plugin for GPU plans, kept outside site-packages (see pyproject.toml).
JAX_CUDA_PLUGIN_VERSION := $(shell sed -n 's/^jax_cuda12_plugin = "\(.*\)"/\1/p' pyproject.toml)

.PHONY: install demo test parity

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[torch,test,export,plan]'
	$(VENV)/bin/pip install -q --no-deps jax2onnx==$(JAX2ONNX_VERSION)
	$(VENV)/bin/pip install -q --no-deps --target $(VENV)/plan-gpu \
	  jax-cuda12-plugin==$(JAX_CUDA_PLUGIN_VERSION) jax-cuda12-pjrt==$(JAX_CUDA_PLUGIN_VERSION)
	touch $@

install: $(VENV)/.installed

# Converts every release-format checkpoint in $(FIXTURES)/parity and verifies it against the
# release's own outputs (eval + training mode), printing one parity table per model.
parity: install
	@set -e; for d in $(FIXTURES)/parity/*/; do \
	  echo "== $$d"; \
	  $(PY) -m star_jax.convert verify $$d/model.pth.gz $$d/io.npz; \
	done

# Trains a narrow STARnet on the embedded dataset (generated on first use), evaluates every
# output against its baseline, then enhances a clip of the dataset and writes a strip.
# Idempotent: a second run resumes the finished training (re-reporting its metrics) and
# replaces the showcase files.
demo: install
	$(PY) -m star_jax.main --config=configs/demo.py --workdir=workdir/demo
	$(PY) -m star_jax.showcase --weights workdir/demo/model --data-dir workdir/demo_data \
	  --output workdir/showcase --overwrite

test: install
	$(VENV)/bin/pytest tests -q -p no:cacheprovider --durations=15 -n $(TEST_WORKERS) --dist loadgroup
