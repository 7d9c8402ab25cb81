"""compiled_step_stats on programs whose FLOPs and buffer sizes are known by hand."""

import jax
import jax.numpy as jnp
import pytest

from star_jax.train.compiled_stats import compiled_step_stats, format_step_stats

N = 256
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
