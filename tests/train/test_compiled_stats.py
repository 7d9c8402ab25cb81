"""compiled_step_stats on programs whose FLOPs and buffer sizes are known by hand."""

import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from star_jax.train.compiled_stats import compiled_step_stats, format_step_stats
from tests.conftest import fake_device_flags

N = 256
REPO = pathlib.Path(__file__).resolve().parents[2]
MATRIX_BYTES = N * N * 4


def test_matmul_flops_and_buffers_with_donation():
  # out = (a @ b, a + 1), a donated: 2 N^3 FLOPs for the matmul, N^2 for the add.
  f = jax.jit(lambda a, b: (a @ b, a + 1.0), donate_argnums=(0,))
  a = jnp.ones((N, N), jnp.float32)
  stats = compiled_step_stats(f.lower(a, a).compile())
  assert stats["flops"] == pytest.approx(2 * N**3 + N**2, rel=1e-3)
  assert stats["argument_bytes"] == 2 * MATRIX_BYTES
  assert 2 * MATRIX_BYTES <= stats["output_bytes"] <= 2 * MATRIX_BYTES + 64  # + tuple table
  assert stats["alias_bytes"] == MATRIX_BYTES  # a + 1 reuses a's buffer
  assert stats["peak_bytes"] == (stats["argument_bytes"] + stats["output_bytes"]
                                 + stats["temp_bytes"] - stats["alias_bytes"])


_PARTITIONED = """
import jax, jax.numpy as jnp
from jax.sharding import AxisType, NamedSharding, PartitionSpec
from star_jax.train.compiled_stats import compiled_step_stats, num_devices
mesh = jax.make_mesh((8,), ("data",), axis_types=(AxisType.Auto,))
f = jax.jit(lambda w, x: jnp.tanh(x @ w).sum(),
            in_shardings=(NamedSharding(mesh, PartitionSpec()),
                          NamedSharding(mesh, PartitionSpec("data"))))
lowered = f.lower(jnp.ones((256, 256)), jnp.ones((1024, 256)))
compiled = lowered.compile()
print(num_devices(compiled), compiled_step_stats(compiled, lowered)["flops"],
      compiled_step_stats(compiled)["flops"])
"""


def test_lowered_count_is_per_device_on_a_partitioned_program():
  # A batch sharded over 8 devices: the lowered (global) program holds 2 B N^2 FLOPs of
  # matmul, each device's compiled program an eighth. Counted on the lowered program (as
  # the trainer does: XLA:GPU's compiled count omits cuDNN convolutions) the stats are
  # still per device and agree with the compiled per-device count.
  env = dict(os.environ, XLA_FLAGS=fake_device_flags(8),
             JAX_PLATFORMS="cpu")
  done = subprocess.run([sys.executable, "-c", _PARTITIONED], capture_output=True, text=True,
                        env=env, cwd=REPO, timeout=600, check=True)
  devices, lowered_flops, compiled_flops = done.stdout.split()
  assert int(devices) == 8
  assert float(lowered_flops) == pytest.approx(2 * 1024 * N * N / 8, rel=0.01)
  assert float(lowered_flops) == pytest.approx(float(compiled_flops), rel=0.01)


def test_peak_counts_temporaries():
  # The N x N product between two matmuls is a temporary, not an output.
  f = jax.jit(lambda a: (a @ a) @ a)
  stats = compiled_step_stats(f.lower(jnp.ones((N, N), jnp.float32)).compile())
  assert stats["temp_bytes"] >= MATRIX_BYTES
  assert stats["peak_bytes"] >= MATRIX_BYTES + stats["argument_bytes"]


def test_format_mentions_flops_memory_and_compile_time():
  line = format_step_stats({"flops": 2.5e9, "peak_bytes": 2**30, "argument_bytes": 2**29,
                            "output_bytes": 2**29, "temp_bytes": 2**29, "alias_bytes": 2**29},
                           compile_seconds=12.34)
  assert "12.3 s" in line and "2.500 GFLOP" in line and "peak memory 1.000 GiB" in line
