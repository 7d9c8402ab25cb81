"""The liveness-based peak estimate on programs whose peak is known by hand."""

import jax
import jax.numpy as jnp

from star_jax.infer import memory


def test_peak_of_a_chain_frees_dead_values():
  # a = x + 1 (4 KB), b = a * 2 (4 KB, a dies), c = b - 3 (4 KB, b dies): peak 8 KB.
  x = jax.ShapeDtypeStruct((1024,), jnp.float32)
  assert memory.traced_peak_bytes(lambda v: (v + 1) * 2 - 3, x) == 2 * 4096


def test_peak_counts_values_kept_alive():
  x = jax.ShapeDtypeStruct((1024,), jnp.float32)

  def keep_all(v):
    a = v + 1
    b = a * 2
    c = b - 3
    return a + b + c  # a, b, c all live until the end: peak a + b + c + (a+b) = 16 KB

  assert memory.traced_peak_bytes(keep_all, x) == 4 * 4096


def test_peak_scales_with_pixels():
  kernel = jax.ShapeDtypeStruct((3, 3, 4, 8), jnp.float32)

  def conv(image, k):
    return jax.nn.relu(jax.lax.conv_general_dilated(
        image, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))

  small = memory.traced_peak_bytes(conv, jax.ShapeDtypeStruct((1, 16, 16, 4), jnp.float32),
                                   kernel)
  large = memory.traced_peak_bytes(conv, jax.ShapeDtypeStruct((1, 32, 32, 4), jnp.float32),
                                   kernel)
  assert large == 4 * small > 0


def test_available_memory_is_positive():
  assert memory.available_memory_bytes() > 0


class _DeviceWithStats:
  def __init__(self, stats):
    self._stats = stats

  def memory_stats(self):
    return self._stats


def test_accelerator_free_memory_is_limit_minus_in_use():
  device = _DeviceWithStats({"bytes_limit": 80 * 2**30, "bytes_in_use": 30 * 2**30})
  assert memory.available_memory_bytes(device) == 50 * 2**30
  # no allocator statistics (XLA:CPU): the host's available memory
  assert memory.available_memory_bytes(_DeviceWithStats(None)) > 0
