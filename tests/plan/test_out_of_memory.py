"""A program XLA:TPU refuses for lack of HBM is a plan that does not fit, not an error."""

import os

import jax
import jax.numpy as jnp
from jax.sharding import SingleDeviceSharding

from star_jax.plan import report
from star_jax.plan.planner import compile_step, out_of_memory_bytes
from star_jax.plan.topology import compile_only_devices, parse_topology

os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")


def test_a_program_beyond_hbm_is_reported_with_the_bytes_it_needs(tmp_path):
  device = compile_only_devices(parse_topology("v5e:2x2"), str(tmp_path / "libtpu.log"))[0]
  big = jax.ShapeDtypeStruct((6, 1024, 1024, 1024), jnp.float32,
                             sharding=SingleDeviceSharding(device))  # 24 GiB
  step = compile_step("infer", jax.jit(lambda x: jnp.sin(x) * jnp.cos(x[::-1]) + x), (big,),
                      [device], compute_dtype="float32", remat="none", global_batch=6,
                      batch_per_chip=6, frame=(1024, 1024))
  assert step.fits is False and "RESOURCE_EXHAUSTED" in step.compile_error
  assert step.peak_bytes_per_chip > 16 * 2**30 and step.shortfall_bytes > 0
  assert step.flops_per_chip is None and step.estimated_step_s is None
  assert report.step_json(step)["argument_bytes"] is None
  assert "XLA: RESOURCE_EXHAUSTED" in report.table({"infer": step})


def test_the_messages_xla_writes():
  assert out_of_memory_bytes(
      "RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for HLO "
      "temporaries (48.00G) exceeds available HBM (15.75G).") == 48 * 2**30
  assert out_of_memory_bytes(
      "RESOURCE_EXHAUSTED: XLA:TPU compile permanent error. Ran out of memory in memory space "
      "hbm. Used 20.50G of 15.75G hbm. Exceeded hbm capacity by 4.75G.") == 20.5 * 2**30
  assert out_of_memory_bytes("INVALID_ARGUMENT: bad shapes") is None
