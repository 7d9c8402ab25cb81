"""compiled_step_stats reads XLA's FLOP count and buffer sizes of a compiled function."""

import jax
import jax.numpy as jnp

from star_jax.train.compiled_stats import compiled_step_stats


def test_matmul_flops_and_bytes():
  a, b = jnp.ones((64, 32), jnp.float32), jnp.ones((32, 16), jnp.float32)
  stats = compiled_step_stats(jax.jit(jnp.dot).lower(a, b).compile())
  assert stats["flops"] == 2 * 64 * 32 * 16
  assert stats["argument_bytes"] == (64 * 32 + 32 * 16) * 4
  assert stats["output_bytes"] == 64 * 16 * 4
  assert stats["peak_bytes"] == (stats["argument_bytes"] + stats["output_bytes"]
                                 + stats["temp_bytes"])


def test_donated_output_is_counted_once():
  x = jnp.ones((128, 128), jnp.float32)
  stats = compiled_step_stats(jax.jit(lambda v: v * 2, donate_argnums=0).lower(x).compile())
  assert stats["argument_bytes"] == stats["output_bytes"] == 128 * 128 * 4
  assert stats["peak_bytes"] == 128 * 128 * 4 + stats["temp_bytes"]
