"""The plan of a step on a mesh with a 'space' axis: each chip holds a share of every sample
(training) or frame pair (inference), so the model FLOPs per chip (and the MFU quoted against
them) are the sample's divided by the axis, and the inference step runs one pair per 'space'
chips. Planned on 4 fake CPU devices in a fresh process (XLA:CPU; nothing runs)."""

import json
import os
import subprocess
import sys

from tests.conftest import fake_device_flags

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = """
import json, jax
from star_jax.plan import planner
from star_jax.train import config as config_lib
from star_jax.train.config import base_config
narrow = {"model.variant": "V1", "model.base_filter": 8, "model.feat": 4,
          "model.n_resblock": 1, "data.patch_size": 16}
plans = {}
for mesh, batch in (((1, 1, 4), 1), ((4, 1), 4)):
  config = config_lib.with_fields(base_config(), batch_size=batch, eval_batch_size=batch,
                                  mesh_shape=mesh, **narrow)
  for kind in ("train", "infer"):
    step = planner.plan_step(kind, config, jax.devices(), infer_size=(24, 20))
    plans[f"{kind} {mesh}"] = {"model": step.model_flops_per_chip,
                               "batch_per_chip": step.batch_per_chip,
                               "global_batch": step.global_batch}
print(json.dumps(plans))
"""


def test_a_space_axis_divides_each_chips_model_flops():
  env = dict(os.environ, XLA_FLAGS=fake_device_flags(4), JAX_PLATFORMS="cpu", PYTHONPATH=REPO)
  completed = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=900, check=False)
  assert completed.returncode == 0, completed.stderr[-3000:]
  plans = json.loads(completed.stdout.strip().splitlines()[-1])
  for kind in ("train", "infer"):
    space, data = plans[f"{kind} (1, 1, 4)"], plans[f"{kind} (4, 1)"]
    # One 16x16 sample (a 24x20 pair) split over 4 chips against one whole one per chip.
    assert space["batch_per_chip"] == data["batch_per_chip"] == 1, plans
    assert (space["global_batch"], data["global_batch"]) == (1, 4), plans
    assert abs(space["model"] * 4 - data["model"]) <= 1e-6 * data["model"], plans
