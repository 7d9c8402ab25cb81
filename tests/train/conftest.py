"""A small demo dataset with cached (OpenCV DIS) flows, shared by the training tests, and a
helper that runs ``python -m star_jax.main`` as a user would."""

import os
import pathlib
import subprocess
import sys

import pytest

from star_jax.data import demo, flow_cache
from star_jax.flow import FlowSettings

REPO = pathlib.Path(__file__).resolve().parents[2]

TINY_MODEL_FLAGS = (
    "--config.model.variant=V3", "--config.model.base_filter=8", "--config.model.feat=4",
    "--config.model.n_resblock=1", "--config.batch_size=4", "--config.eval_batch_size=4",
    "--config.data.flow_backend=opencv_dis", "--config.data.generate_demo=False",
    "--config.log_every_steps=1", "--config.eval_every_steps=1000")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> pathlib.Path:
  root = demo.ensure_demo_dataset(tmp_path_factory.mktemp("demo") / "data",
                                  num_train_triplets=16, num_test_triplets=8,
                                  num_train_septuplets=1, num_test_septuplets=1,
                                  show_progress=False)
  for split in ("train", "test"):
    flow_cache.ensure_flow_cache(root, split, settings=FlowSettings("opencv_dis"),
                                   progress=False)
  return root


def main_command(workdir, data_dir, *overrides):
  return [sys.executable, "-m", "star_jax.main", "--config=configs/demo.py",
          f"--workdir={workdir}", f"--config.data.dir={data_dir}", *TINY_MODEL_FLAGS, *overrides]


def run_main(workdir, data_dir, *overrides, env=None, timeout=900):
  return subprocess.run(main_command(workdir, data_dir, *overrides), cwd=REPO, capture_output=True,
                        text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
