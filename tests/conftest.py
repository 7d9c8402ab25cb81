"""Shared pytest fixtures: where the ground-truth fixtures live."""

import os
import pathlib

import pytest

# XLA:CPU's LLVM optimisation is most of the compile time of a test's programs, and no test
# measures speed: compile unoptimised (halves the CPU time of e.g. tests/model/test_remat.py
# and tests/flow/test_coarse2fine.py). Inherited by the commands tests run; set XLA_FLAGS
# with its own --xla_backend_optimization_level to choose another.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_backend_optimization_level=0").strip()

# PyTorch's (OpenMP) threads spin-wait for each other; beside a second xdist worker on a 2-core
# machine a 2-thread torch step ran 3-10x slower than a 1-thread one, for 3x the CPU
# (benchmarks/results/ci_time.md). One thread per test process; inherited by the commands
# tests run. Set OMP_NUM_THREADS to choose another.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def fake_device_flags(count: int) -> str:
  """``XLA_FLAGS`` for a command with ``count`` fake CPU devices (and this run's flags)."""
  return (os.environ.get("XLA_FLAGS", "") +
          f" --xla_force_host_platform_device_count={count}").strip()
FIXTURES = REPO_ROOT / "tests" / "fixtures"


def shared_root() -> pathlib.Path:
  """``$STAR_JAX_SHARED`` if set, else the copy carried by the repository (``tests/fixtures``).

  Either folder holds ``parity/<model>/{model.pth.gz,io.npz,meta.json}``,
  ``flow/fixtures/*.npz`` and ``trainstep/<case>/{model.pth.gz,batch.npz,reference.npz,
  meta.json}`` (see ``tests/fixtures/README.md`` for their provenance).
  """
  return pathlib.Path(os.environ.get("STAR_JAX_SHARED", FIXTURES))


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
  root = shared_root()
  if not (root / "parity").is_dir() or not (root / "flow" / "fixtures").is_dir():
    raise FileNotFoundError(
        f"ground-truth folder {root} lacks parity/ or flow/fixtures/; "
        "unset STAR_JAX_SHARED to use the repository's tests/fixtures")
  return root


def pytest_collection_modifyitems(items):
  """Tests marked ``slow`` run first (each keeps its place among them): xdist's workers then
  start the longest tests early and finish together, instead of one worker running a long
  test alone at the end of the run."""
  items.sort(key=lambda item: item.get_closest_marker("slow") is None)
