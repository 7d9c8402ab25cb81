"""Device meshes and shardings for training: batch on 'data', parameters replicated or
sharded FSDP-style by config rules, per-host batches assembled into global arrays."""

import logging
import re
from typing import Any, Sequence, Tuple

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from star_jax.train.state import path_name

MESH_AXES = ("data", "model")


def mesh_axis_sizes(mesh_shape: Sequence[int], num_devices: int) -> Tuple[int, int]:
  """``mesh_shape`` (data, model) with its one -1 (if any) resolved for ``num_devices``.

  Raises:
    ValueError: not two entries, more than one -1, or not a factorisation of
      ``num_devices``.
  """
  shape = list(mesh_shape)
  if len(shape) != 2 or shape.count(-1) > 1:
    raise ValueError(f"mesh_shape must be (data, model) with at most one -1, got {mesh_shape}")
  known = int(np.prod([s for s in shape if s != -1]))
  if -1 in shape:
    if num_devices % known:
      raise ValueError(f"mesh_shape {tuple(mesh_shape)} does not divide {num_devices} devices")
    shape[shape.index(-1)] = num_devices // known
  if int(np.prod(shape)) != num_devices:
    raise ValueError(f"mesh_shape {tuple(shape)} needs {int(np.prod(shape))} devices, "
                     f"{num_devices} are present")
  return tuple(shape)


def make_mesh(mesh_shape: Sequence[int], devices=None) -> Mesh:
  """A ('data', 'model') mesh; one entry of ``mesh_shape`` may be -1 (all remaining)
  (:func:`mesh_axis_sizes`).

  Axis types are Auto: jax 0.10's default (Explicit) makes sharded convolutions fail.
  """
  devices = list(jax.devices() if devices is None else devices)
  shape = mesh_axis_sizes(mesh_shape, len(devices))
  return jax.make_mesh(shape, MESH_AXES, axis_types=(AxisType.Auto,) * 2, devices=devices)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def param_shardings(tree, mesh: Mesh, rules: Sequence[Tuple[str, Sequence[Any]]]):
  """NamedShardings for a (shape) tree: the first rule whose regex fully matches the
  '/'-joined path gives the PartitionSpec; a dim that the mesh axis does not divide, or no
  match, means replicated."""
  compiled = [(re.compile(pattern), tuple(spec)) for pattern, spec in rules]

  def sharding_for(path, leaf):
    name = path_name(path)
    for pattern, spec in compiled:
      if pattern.fullmatch(name) and len(spec) <= len(leaf.shape):
        divisible = all(axis is None or leaf.shape[i] % mesh.shape[axis] == 0
                        for i, axis in enumerate(spec))
        if divisible:
          return NamedSharding(mesh, P(*spec))
        logging.info("not sharding %s %s over %s: indivisible", name, leaf.shape, spec)
    return replicated(mesh)

  return jax.tree_util.tree_map_with_path(sharding_for, tree)


def global_batch(local_batch, mesh: Mesh):
  """Per-process numpy batch -> global jax.Arrays sharded over 'data'."""
  sharding = batch_sharding(mesh)
  return jax.tree_util.tree_map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local_batch)
