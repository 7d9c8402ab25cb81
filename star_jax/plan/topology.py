"""TPU slice names -> the TPU compiler's topology, and its compile-only devices.

Two spellings are accepted (``parse_topology``):

* the compiler's own, ``<generation>:<shape>``: ``v5p:2x2x1``, ``v4:2x2x1``, ``v5e:4x4``,
  ``v6e:2x2`` (chips along each axis; 3-D for v4/v5p, 2-D for v5e/v6e);
* Cloud's accelerator types, as ``gcloud compute tpus tpu-vm create --accelerator-type`` takes
  them: ``v4-8``, ``v5p-8``, ``v5litepod-16``, ``v6e-8``. For v4 and v5p the number counts
  TensorCores, two per chip (``v5p-8`` is 4 chips, ``v4-32`` 16); for v5e and v6e it counts
  chips (``v5litepod-16`` is 16 chips). The slice shape of a given chip count is the one
  Google's per-generation pages list (docs.cloud.google.com/tpu/docs/v4, v5p, v5e, v6e:
  "Topology | Cores | Chips" tables); ``v5e-N`` is accepted for ``v5litepod-N``.

GPUs (``h100:8``, ``h200:8``, ``h100:4x8`` = 4 hosts of 8): deviceless compiles through XLA's
CUDA plugin (``jax-cuda12-plugin``, no CUDA libraries, no GPU) given a target description
(``gpu_specs/*.txtpb``). The plugin is kept out of the environment's ``site-packages`` (there
it would make every jax process probe for CUDA): ``make install`` puts it in
``<venv>/plan-gpu`` (``GPU_PLUGIN_DIR``; ``$STAR_JAX_PLAN_GPU_PLUGIN`` overrides), which
:func:`use_gpu_plugin` puts on ``sys.path`` before jax first looks for plugins.

``compile_only_devices`` gets the slice's devices from libtpu
(``jax.experimental.topologies.get_topology_desc``, ``pip install 'star_jax[plan]'``): JAX
devices that programs can be compiled for but not run on, on any host (``JAX_PLATFORMS=cpu``
is enough). libtpu's start-up lines (it looks for TPU metadata that a CPU host does not have)
are written to the file the caller names, never to the console
(``accelerators.native_output_to``).
"""

import dataclasses
import importlib.util
import os
import re
import sys
from typing import Dict, List, Optional, Tuple

from star_jax import accelerators
from star_jax.errors import UserInputError

# Generation -> (Cloud accelerator-type prefix, TensorCores per chip in that name, rank of
# the slice shape).
GENERATIONS: Dict[str, Tuple[str, int, int]] = {
    "v4": ("v4", 2, 3),
    "v5p": ("v5p", 2, 3),
    "v5e": ("v5litepod", 1, 2),
    "v6e": ("v6e", 1, 2),
}
_PREFIX_ALIASES = {"v5e": "v5e", "v5litepod": "v5e", "v4": "v4", "v5p": "v5p", "v6e": "v6e"}
# Chip count -> slice shape, as Google's topology tables list them.
SHAPES_3D = {4: (2, 2, 1), 8: (2, 2, 2), 16: (2, 2, 4), 32: (2, 4, 4), 64: (4, 4, 4),
             128: (4, 4, 8), 256: (4, 8, 8), 512: (8, 8, 8), 1024: (8, 8, 16),
             2048: (8, 16, 16), 4096: (16, 16, 16)}
SHAPES_2D = {1: (1, 1), 4: (2, 2), 8: (2, 4), 16: (4, 4), 32: (4, 8), 64: (8, 8),
             128: (8, 16), 256: (16, 16)}


# libtpu's default chips per host (x, y, z); a slice smaller than it along an axis
# (v5litepod-1, v6e-1) is described with its own bounds (``_host_bounds``).
DEFAULT_CHIPS_PER_HOST = (2, 2, 1)

GPU_SPECS = {"h100": "h100_sxm.txtpb", "h200": "h200.txtpb"}
GPU_PLUGIN_ENV = "STAR_JAX_PLAN_GPU_PLUGIN"
GPU_PLUGIN_DIR = os.path.join(sys.prefix, "plan-gpu")


@dataclasses.dataclass(frozen=True)
class Topology:
  """A TPU slice: ``generation`` ('v4', 'v5p', 'v5e', 'v6e'), ``shape`` (chips per axis)."""

  generation: str
  shape: Tuple[int, ...]

  @property
  def num_chips(self) -> int:
    count = 1
    for side in self.shape:
      count *= side
    return count

  @property
  def compiler_name(self) -> str:
    """The name ``get_topology_desc`` takes, e.g. 'v5p:2x2x1'."""
    return f"{self.generation}:{'x'.join(map(str, self.shape))}"

  @property
  def is_gpu(self) -> bool:
    return self.generation in GPU_SPECS

  @property
  def accelerator_type(self) -> Optional[str]:
    """Cloud's name for the slice, e.g. 'v5p-8' (TensorCores for v4/v5p, chips otherwise);
    None for GPUs."""
    if self.is_gpu:
      return None
    prefix, cores_per_chip, _ = GENERATIONS[self.generation]
    return f"{prefix}-{self.num_chips * cores_per_chip}"


def _shape_table(generation: str) -> Dict[int, Tuple[int, ...]]:
  return SHAPES_3D if GENERATIONS[generation][2] == 3 else SHAPES_2D


def parse_topology(text: str) -> Topology:
  """A :class:`Topology` from either spelling (module docstring).

  Raises:
    ValueError: an empty name, an unknown generation, a malformed shape, a shape of the wrong
      rank, or an accelerator type whose size has no listed slice shape (the message lists
      the sizes).
  """
  name = text.strip().lower()
  if not name:
    raise UserInputError("topology is empty (e.g. v5p:2x2x1, v5litepod-16, h100:8 or 'cpu')")
  gpu = re.fullmatch(r"(h100|h200):(?:([0-9]+)x)?([0-9]+)", name)
  if gpu:
    hosts, per_host = int(gpu.group(2) or 1), int(gpu.group(3))
    if min(hosts, per_host) < 1:
      raise UserInputError(f"topology {text!r}: hosts and GPUs per host must be at least 1")
    return Topology(gpu.group(1), (hosts, per_host))
  compiler = re.fullmatch(r"(v[0-9a-z]+):([0-9]+(?:x[0-9]+)*)", name)
  if compiler:
    generation = _PREFIX_ALIASES.get(compiler.group(1), compiler.group(1))  # v5litepod:2x2
    if generation not in GENERATIONS:
      raise UserInputError(f"topology {text!r}: unknown TPU generation {generation!r} (one of "
                           f"{', '.join(sorted(_PREFIX_ALIASES))})")
    shape = tuple(int(side) for side in compiler.group(2).split("x"))
    rank = GENERATIONS[generation][2]
    example = Topology(generation, _shape_table(generation)[4]).compiler_name
    if len(shape) != rank:
      raise UserInputError(f"topology {text!r}: {generation} slices have {rank}-D shapes "
                           f"(e.g. {example})")
    if min(shape) < 1:
      raise UserInputError(f"topology {text!r}: every side must be at least 1 (e.g. {example})")
    return Topology(generation, shape)
  cloud = re.fullmatch(r"(v[0-9a-z]+)-([0-9]+)", name)
  if cloud and cloud.group(1) not in _PREFIX_ALIASES:
    raise UserInputError(f"topology {text!r}: unknown TPU generation {cloud.group(1)!r} (one of "
                         f"{', '.join(sorted(_PREFIX_ALIASES))})")
  if not cloud:
    raise UserInputError(f"topology {text!r} is none of a compiler topology (v5p:2x2x1, v5e:4x4, "
                         f"v6e:2x2, v4:2x2x1), a Cloud accelerator type (v5p-8, v5litepod-16, "
                         f"v6e-8, v4-8), GPUs (h100:8, h200:4x8) or 'cpu'")
  generation = _PREFIX_ALIASES[cloud.group(1)]
  _, cores_per_chip, _ = GENERATIONS[generation]
  count = int(cloud.group(2))
  table = _shape_table(generation)
  if count % cores_per_chip or count // cores_per_chip not in table:
    sizes = ", ".join(Topology(generation, shape).accelerator_type for shape in table.values())
    raise UserInputError(f"topology {text!r}: no listed {generation} slice of that size ({sizes})")
  return Topology(generation, table[count // cores_per_chip])


def _gpu_plugin_folder() -> str:
  return os.environ.get(GPU_PLUGIN_ENV, GPU_PLUGIN_DIR)


def use_gpu_plugin() -> Optional[str]:
  """Puts the CUDA plugin's folder (``$STAR_JAX_PLAN_GPU_PLUGIN``, else ``GPU_PLUGIN_DIR``) on
  ``sys.path`` if it exists, so that jax finds the plugin when it first looks for plugins
  (call it before any jax backend starts); returns the folder, or None when there is none."""
  folder = _gpu_plugin_folder()
  if not os.path.isdir(folder):
    return None
  if folder not in sys.path:
    sys.path.append(folder)
  return folder


def _gpu_devices(topology: Topology, log_path: Optional[str]) -> List:
  from jax.experimental import topologies  # pylint: disable=g-import-not-at-top
  spec = os.path.join(os.path.dirname(__file__), "gpu_specs", GPU_SPECS[topology.generation])
  with open(spec) as f:
    target_config = f.read()
  hosts, per_host = topology.shape
  try:
    with accelerators.native_output_to(log_path):
      description = topologies.get_topology_desc(platform="cuda", target_config=target_config,
                                                 topology=f"1x{hosts}x{per_host}")
  except Exception as error:  # pylint: disable=broad-except (the plugin's errors have no type)
    raise RuntimeError(
        f"XLA's CUDA plugin could not describe {topology.compiler_name} ({type(error).__name__}: "
        f"{error}); is jax-cuda12-plugin installed in {_gpu_plugin_folder()} ("
        f"{'$' + GPU_PLUGIN_ENV if GPU_PLUGIN_ENV in os.environ else 'make install'})?"
        ) from error
  return sorted(description.devices, key=lambda device: device.id)


def _host_bounds(topology: Topology) -> Optional[List[int]]:
  """The chips-per-host bounds libtpu is given: None (its default, 2x2x1) unless the slice is
  smaller than that along an axis, then the default clipped to the slice (1x1x1 for
  ``v6e:1x1``)."""
  shape = tuple(topology.shape) + (1,) * (3 - len(topology.shape))
  if all(side >= bound for side, bound in zip(shape, DEFAULT_CHIPS_PER_HOST)):
    return None
  return [min(side, bound) for side, bound in zip(shape, DEFAULT_CHIPS_PER_HOST)]


def compile_only_devices(topology: Topology, log_path: Optional[str] = None) -> List:
  """The slice's devices as libtpu (TPUs) or XLA's CUDA plugin (GPUs, :func:`use_gpu_plugin`)
  describes them (compile-only: ``jit(...).lower(...).compile()`` works, running does not),
  in device-id order; their output goes to ``log_path`` (``accelerators.native_output_to``).

  Raises:
    UserInputError: libtpu refuses the topology as an invalid argument (its message is kept),
      or describes it with another number of devices than it has chips.
    RuntimeError: libtpu fails otherwise (not installed: the message says how to install
      it), or the CUDA plugin is missing or does not know the topology (messages kept).
  """
  if topology.is_gpu:
    return _gpu_devices(topology, log_path)
  from jax.experimental import topologies  # pylint: disable=g-import-not-at-top
  bounds = _host_bounds(topology)
  options = {} if bounds is None else {"chips_per_host_bounds": bounds}
  try:
    with accelerators.native_output_to(log_path):
      description = topologies.get_topology_desc(topology_name=topology.compiler_name,
                                                 platform="tpu", **options)
  except Exception as error:  # pylint: disable=broad-except (libtpu's errors have no type)
    if "INVALID_ARGUMENT" in str(error):
      raise UserInputError(f"topology {topology.compiler_name}: libtpu refuses it "
                           f"({type(error).__name__}: {error})") from error
    hint = ("; is libtpu installed (pip install 'star_jax[plan]')?"
            if importlib.util.find_spec("libtpu") is None else "")
    raise RuntimeError(f"libtpu could not describe TPU topology {topology.compiler_name} "
                       f"({type(error).__name__}: {error}){hint}") from error
  devices = sorted(description.devices, key=lambda device: device.id)
  if len(devices) != topology.num_chips:
    listed = Topology(topology.generation, _shape_table(topology.generation)[4])
    raise UserInputError(f"topology {topology.compiler_name}: libtpu describes it as "
                         f"{len(devices)} devices for {topology.num_chips} chips; plan a "
                         f"listed slice instead (e.g. {listed.compiler_name})")
  return devices
