"""Device meshes and shardings for training: samples on 'data', image height on 'space',
parameters replicated or sharded FSDP-style over 'model' by config rules, optionally the
optimiser state split over the chips that hold the same parameters (ZeRO stage 1), per-host
batches assembled into global arrays.

Spatial partitioning (the 'space' axis): every NHWC batch array is split over its height
(``PartitionSpec('data', 'space')``) and the network's activations follow it (XLA's SPMD
partitioner exchanges the rows each convolution needs from its neighbours), so one sample
spans several devices and the result equals a one-device run up to float summation order.
A height that ``space`` does not divide is not padded (padding the frame would change
what the border convolutions see): such an array enters split over 'data' only and the
step splits it over 'space' inside (:func:`constrain_batch`), where XLA pads the last
shard internally and masks it out, so the result is still exact. The steps trace under
their mesh (:func:`on_mesh`), where the model keeps maps of fewer rows than 'space'
unsplit (``star_jax.model.layers.replicated_if_short``, an XLA work-around).
"""

import logging
import re
from typing import Any, Sequence, Tuple

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from star_jax.errors import UserInputError
from star_jax.train.state import path_name

MESH_AXES = ("data", "model", "space")


def mesh_axis_sizes(mesh_shape: Sequence[int], num_devices: int) -> Tuple[int, int, int]:
  """``mesh_shape`` (data, model) or (data, model, space) as the three sizes (data, model,
  space) for ``num_devices``: a missing ``space`` is 1, the one -1 (if any) takes the
  remaining devices.

  Raises:
    ValueError: not two or three whole numbers, an entry that is neither positive nor -1, more
      than one -1, or not a factorisation of ``num_devices`` (the message names the shape
      and the device count).
  """
  try:
    shape = [int(s) for s in mesh_shape]
  except (TypeError, ValueError):
    raise UserInputError(f"mesh_shape must be (data, model) or (data, model, space) of whole "
                         f"numbers, got {mesh_shape!r}") from None
  if (len(shape) not in (2, 3) or shape.count(-1) > 1
      or any(s < 1 and s != -1 for s in shape)):
    raise UserInputError(f"mesh_shape must be (data, model) or (data, model, space), positive "
                         f"sizes with at most one -1, got {tuple(mesh_shape)}")
  shape += [1] * (3 - len(shape))
  known = int(np.prod([s for s in shape if s != -1]))
  if -1 in shape:
    if num_devices % known:
      raise UserInputError(f"mesh_shape {tuple(mesh_shape)} does not divide {num_devices} devices")
    shape[shape.index(-1)] = num_devices // known
  if int(np.prod(shape)) != num_devices:
    raise UserInputError(f"mesh_shape {tuple(mesh_shape)} needs {int(np.prod(shape))} devices, "
                         f"{num_devices} are present")
  return tuple(shape)


def make_mesh(mesh_shape: Sequence[int], devices=None) -> Mesh:
  """A ('data', 'model', 'space') mesh (``space`` 1 for a two-entry ``mesh_shape``); one
  entry may be -1 (all remaining devices; :func:`mesh_axis_sizes`, whose ValueError it
  raises).

  Axis types are Auto: jax 0.10's default (Explicit) makes sharded convolutions fail.
  """
  devices = list(jax.devices() if devices is None else devices)
  shape = mesh_axis_sizes(mesh_shape, len(devices))
  return jax.make_mesh(shape, MESH_AXES, axis_types=(AxisType.Auto,) * 3, devices=devices)


def batch_spec(shape: Sequence[int], mesh: Mesh) -> P:
  """The PartitionSpec of a batch array of ``shape`` entering a step: samples over 'data',
  and for an image (rank >= 2, NHWC) whose height the 'space' axis divides, the height over
  'space' (other heights are split inside the step, :func:`constrain_batch`)."""
  if len(shape) >= 2 and mesh.shape["space"] > 1 and shape[1] % mesh.shape["space"] == 0:
    return P("data", "space")
  return P("data")


def batch_sharding(mesh: Mesh, shape: Sequence[int]) -> NamedSharding:
  """:func:`batch_spec` as a NamedSharding on ``mesh``."""
  return NamedSharding(mesh, batch_spec(shape, mesh))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def constrain_batch(batch, mesh: Mesh):
  """Inside a jitted step: every image of ``batch`` (rank 4, NHWC) split over 'data' and its
  height over 'space' (XLA pads a height 'space' does not divide, internally); other
  arrays over 'data'. A no-op on a mesh whose 'space' axis is 1."""
  if mesh.shape["space"] == 1:
    return batch
  split = NamedSharding(mesh, P("data", "space"))
  return jax.tree_util.tree_map(
      lambda x: jax.lax.with_sharding_constraint(x, split) if x.ndim == 4 else x, batch)


def on_mesh(step, mesh: Mesh):
  """``step(state, batch)`` as a function to jit for ``mesh``: it traces under ``mesh``
  (``jax.sharding.use_abstract_mesh``, what ``star_jax.model.layers.replicated_if_short``
  reads, so the FR UNet's maps of fewer rows than 'space' are not split) and splits the
  batch first (:func:`constrain_batch`)."""
  def stepped(state, batch):
    with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):
      return step(state, constrain_batch(batch, mesh))
  return stepped


def spec_axes(entry) -> Tuple[str, ...]:
  """The mesh axes of one PartitionSpec entry (None, a name, or a tuple or list of names)."""
  if entry is None:
    return ()
  return tuple(entry) if isinstance(entry, (tuple, list)) else (entry,)


def _ways(mesh: Mesh, axes) -> int:
  return int(np.prod([mesh.shape[a] for a in axes]))


def param_shardings(tree, mesh: Mesh, rules: Sequence[Tuple[str, Sequence[Any]]]):
  """NamedShardings for a (shape) tree: the first rule whose regex fully matches the
  '/'-joined path gives the PartitionSpec; a dim that the mesh axis does not divide, or no
  match, means replicated."""
  compiled = [(re.compile(pattern), tuple(spec)) for pattern, spec in rules]

  def sharding_for(path, leaf):
    name = path_name(path)
    for pattern, spec in compiled:
      if pattern.fullmatch(name) and len(spec) <= len(leaf.shape):
        divisible = all(leaf.shape[i] % _ways(mesh, spec_axes(axis)) == 0
                        for i, axis in enumerate(spec))
        if divisible:
          return NamedSharding(mesh, P(*spec))
        logging.info("not sharding %s %s over %s: indivisible", name, leaf.shape, spec)
    return replicated(mesh)

  return jax.tree_util.tree_map_with_path(sharding_for, tree)


def zero1_shardings(tree, shardings, mesh: Mesh):
  """``shardings`` (a tree of NamedShardings matching ``tree``, a state of shape leaves) with
  every optimiser-state leaf (path under 'opt_state') also split over the mesh's
  data-parallel axes, 'data' and 'space' (ZeRO stage 1: Rajbhandari et al. 2020, "ZeRO:
  Memory Optimizations Toward Training Trillion Parameter Models"): each chip keeps a slice
  of the Adamax moments (1/(data x space) of each) and updates its slice of the parameters; XLA
  all-gathers the updated parameters, which stay as ``shardings`` places them. (On the TPU
  compiler the gradients' all-reduce stays as it was, with no reduce-scatter; the
  all-gathers added depend on the program: 182 of 0.42 GiB per step for the full-width step
  at LR 256x256 on a v5p-8, 812 of 0.63 GiB at LR 384x384 on a v5e over space=4:
  benchmarks/results/space_axis.md.)

  Per leaf, the split uses the axes of 'data' and 'space' (those larger than 1) that its spec
  does not already use (e.g. a ``param_sharding`` rule over 'data') and takes the largest
  dimension (the last of equals) that no axis larger than 1 splits yet and that the product
  of those axes divides. A leaf with no such dimension, a scalar, and every leaf when no
  such axis is left keep their sharding (a mesh whose data x space is 1 is logged).
  """
  data_parallel = tuple(a for a in ("data", "space") if mesh.shape[a] > 1)
  if not data_parallel:
    logging.warning("shard_optimizer_state: the mesh %s has data x space = 1, so the "
                    "optimiser state is not split", dict(mesh.shape))

  def split(path, leaf, current):
    if leaf.ndim == 0 or not path_name(path).startswith("opt_state/"):
      return current
    spec = tuple(current.spec) + (None,) * (leaf.ndim - len(current.spec))
    used = {a for entry in spec for a in spec_axes(entry)}
    axes = tuple(a for a in data_parallel if a not in used)
    ways = _ways(mesh, axes)
    if ways == 1:
      return current
    free = [i for i in range(leaf.ndim) if _ways(mesh, spec_axes(spec[i])) == 1
            and leaf.shape[i] % ways == 0]
    if not free:
      return current
    dim = max(free, key=lambda i: (leaf.shape[i], i))
    entry = spec_axes(spec[dim]) + axes
    return NamedSharding(mesh, P(*spec[:dim], entry[0] if len(entry) == 1 else entry,
                                 *spec[dim + 1:]))

  return jax.tree_util.tree_map_with_path(split, tree, shardings)


def global_batch(local_batch, mesh: Mesh):
  """Per-process numpy batch -> global jax.Arrays, each sharded as :func:`batch_spec` says
  (samples over 'data', heights 'space' divides over 'space')."""
  def to_global(x):
    x = np.asarray(x)
    return jax.make_array_from_process_local_data(batch_sharding(mesh, x.shape), x)
  return jax.tree_util.tree_map(to_global, local_batch)
