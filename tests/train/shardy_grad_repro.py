"""Run by test_space_sharding.py in a fresh process with 4 fake CPU devices: the smallest
program found whose gradients under a height split are not one device's (jax/jaxlib 0.10.2,
Shardy partitioner), which put the FR models' flow-UNet gradients 0.9 off on a 'space' axis
until the model worked around it.

A UNet skeleton of plain convolutions on an LR 8-row map split over 4 devices: two strided
height slices down to 2 rows, a convolution at 2 rows, two row repeats back to 8 and a
convolution of its concatenation with the input (the UNet's skip connection); the kernels
enter replicated (``in_shardings``, as the train step places parameters). Prints one JSON
line: the largest relative differences of the input's and the first kernel's gradients
from one device's (measured 0.94 and 1.0; 1e-7 with the kernels' sharding left to the
partitioner, with the GSPMD partitioner, or at 16 rows; also wrong for 8 rows over 8 devices).
Constraining the 2-row convolution's output to replicated before the repeats gives one
device's gradients (1e-7), its input instead does not (2.1): the work-around the flow UNet
applies to its maps of fewer rows than the 'space' axis (``star_jax.model.layers.
replicated_if_short``, under the mesh the sharded steps trace with); this program keeps the
bug visible without it.
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P  # pylint: disable=g-import-not-at-top,wrong-import-position


def conv(x, k):
  return jax.lax.conv_general_dilated(x, k, (1, 1), ((1, 1), (1, 1)),
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def grads(x, kernels, ct, devices):
  mesh = jax.make_mesh((devices,), ("space",), axis_types=(AxisType.Auto,),
                       devices=jax.devices()[:devices])
  replicated = NamedSharding(mesh, P())

  def loss(kernels, x):
    x = jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(None, "space")))
    b = conv(x[:, ::2], kernels[0])                       # 4 rows
    c = conv(b[:, ::2], kernels[1])                       # 2 rows
    up = jnp.repeat(jnp.repeat(c, 2, 1), 2, 1)            # 8 rows
    y = conv(jnp.concatenate([x, up], -1), kernels[2])
    return jnp.sum(y * ct)

  step = jax.jit(jax.grad(loss, argnums=(0, 1)), in_shardings=(replicated, None),
                 out_shardings=replicated)
  return jax.device_get(step(kernels, x))


def main():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(1, 8, 4, 2)).astype(np.float32)
  kernels = [rng.normal(size=(3, 3, c, 2)).astype(np.float32) for c in (2, 2, 4)]
  ct = rng.normal(size=(1, 8, 4, 2)).astype(np.float32)
  (gk_one, gx_one), (gk_split, gx_split) = (grads(x, kernels, ct, n) for n in (1, 4))
  rel = lambda a, b: float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
  json.dump({"input": rel(gx_split, gx_one), "first_kernel": rel(gk_split[0], gk_one[0])},
            sys.stdout)


if __name__ == "__main__":
  main()
