# Two commands for a fresh machine (see README): `make demo` and `make test`.
# Both create and use a local virtualenv in .venv (override with VENV=...).
VENV ?= .venv
PYTHON ?= python3
SHARED ?= ../shared
PY := $(VENV)/bin/python

.PHONY: install demo test parity

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[torch,test]'
	touch $@

install: $(VENV)/.installed

# Converts every release-format checkpoint in $(SHARED)/parity and verifies it against the
# release's own outputs (eval + training mode), printing one parity table per model.
parity: install
	@set -e; for d in $(SHARED)/parity/*/; do \
	  echo "== $$d"; \
	  $(PY) -m star_jax.convert verify $$d/model.pth.gz $$d/io.npz; \
	done

demo: parity

test: install
	STAR_JAX_SHARED=$(abspath $(SHARED)) $(VENV)/bin/pytest tests -q -p no:cacheprovider --durations=15
