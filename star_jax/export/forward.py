"""What both exporters export: the engine's eval forward of a checkpoint, its argument specs
and its sidecar.

The exported function is ``f(weights, im1, im2, flow_f, flow_b) -> (ht, h1, h2, l)`` where
``weights`` is the flat list of the model's variables (``jax.tree_util`` leaf order): the
computation is exactly ``star_jax.infer.network.eval_forward``, which the video engine's
``JaxNetwork`` jits. ONNX closes over the weights (they become initializers); StableHLO
keeps them an argument, saved beside the module, because folding them in as constants lets
XLA reorder arithmetic (measured: not bit-exact for V4_REF on CPU) while passing them keeps
the function bit-identical to the engine's.
"""

import dataclasses
import importlib.metadata
import re
from typing import Any, Callable, Dict, List, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

import star_jax
from star_jax.pixels import IMAGENET_MEAN, IMAGENET_STD
from star_jax.export import sidecar as sidecar_lib
from star_jax.flow.network_input import MAX_FLOW_PX
from star_jax.infer.network import eval_forward
from star_jax.infer.padding import lr_side_multiple
from star_jax.infer.inference_weights import load_inference_weights
from star_jax.model import COMPUTE_DTYPES, OUTPUT_NAMES, ModelConfig

_VERSION_PACKAGES = ("jax", "jaxlib", "flax")


def parse_lr_size(text: str) -> Tuple[int, int]:
  """'HxW' (e.g. '64x112') -> (64, 112); ``ValueError`` naming the text otherwise."""
  match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
  if not match or min(int(match[1]), int(match[2])) < 1:
    raise ValueError(f"lr_size must be HEIGHTxWIDTH in LR pixels (e.g. 64x112), got {text!r}")
  return int(match[1]), int(match[2])


def parse_batch(text: str) -> Union[int, str]:
  """'dynamic' -> sidecar.DYNAMIC_BATCH; a positive integer -> int; ``ValueError`` else."""
  if text == "dynamic":
    return sidecar_lib.DYNAMIC_BATCH
  if not text.isdigit() or int(text) < 1:
    raise ValueError(f"batch must be a positive integer or 'dynamic', got {text!r}")
  return int(text)


@dataclasses.dataclass
class ExportSource:
  """A loaded checkpoint ready to export.

  Attributes:
    model_config: the ``ModelConfig`` with ``dtype`` set to the export's compute dtype.
    weights: flat list of the variables (NumPy arrays, their own dtypes).
    forward: ``forward(weights, im1, im2, flow_f, flow_b) -> (ht, h1, h2, l)`` float32.
    lr_size: (H, W) of the exported LR frames.
    batch: an int, or ``sidecar.DYNAMIC_BATCH``.
  """
  model_config: ModelConfig
  weights: List[np.ndarray]
  forward: Callable[..., Tuple[jax.Array, ...]]
  lr_size: Tuple[int, int]
  batch: Union[int, str]

  @property
  def scale(self) -> int:
    return int(self.model_config["scale"])

  def input_specs(self, batch_dim: Any) -> List[jax.ShapeDtypeStruct]:
    """Shape/dtype structs of (im1, im2, flow_f, flow_b) with ``batch_dim`` as the batch."""
    height, width = self.lr_size
    return [jax.ShapeDtypeStruct((batch_dim, height, width, channels), jnp.float32)
            for channels in (3, 3, 2, 2)]

  def sidecar(self, fmt: str, extra_versions: Dict[str, Any]) -> Dict[str, Any]:
    """The sidecar of this export in format ``fmt`` (``extra_versions`` are added)."""
    versions = {name: importlib.metadata.version(name) for name in _VERSION_PACKAGES}
    versions["star_jax"] = star_jax.__version__
    versions.update(extra_versions)
    specs = sidecar_lib.tensor_specs(self.batch, *self.lr_size, self.scale, OUTPUT_NAMES)
    return sidecar_lib.build_sidecar(
        fmt, self.model_config, specs, mean=IMAGENET_MEAN.tolist(), std=IMAGENET_STD.tolist(),
        max_flow_px=MAX_FLOW_PX,
        lr_side_multiple=lr_side_multiple(self.model_config["variant"], self.scale),
        versions=versions)


def load_export_source(weights_path, lr_size: Tuple[int, int], batch: Union[int, str],
                       dtype: str = "float32") -> ExportSource:
  """Loads a checkpoint directory or release ``.pth`` for export at LR ``lr_size`` (H, W).

  Raises ``UserInputError`` for unloadable weights and ``ValueError`` when ``dtype`` is not
  in ``star_jax.model.COMPUTE_DTYPES`` or an LR side is not a multiple of the variant's ``lr_side_multiple`` (V2/V4 at
  4x need none; at 2x, sides divisible by 2; see ``star_jax.infer.padding``).
  """
  model_cfg, variables = load_inference_weights(weights_path)
  return source_from_variables(model_cfg, variables, lr_size, batch, dtype)


def source_from_variables(model_cfg: ModelConfig, variables, lr_size: Tuple[int, int],
                          batch: Union[int, str], dtype: str = "float32") -> ExportSource:
  """``load_export_source`` for a model config and variables already in memory."""
  if dtype not in COMPUTE_DTYPES:
    raise ValueError(f"dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {dtype!r}")
  cfg = model_cfg.replace(dtype=dtype)
  multiple = lr_side_multiple(cfg.variant, int(cfg.scale))
  if lr_size[0] % multiple or lr_size[1] % multiple:
    raise ValueError(f"lr_size {lr_size[0]}x{lr_size[1]}: {cfg.variant} x{cfg.scale} "
                     f"needs LR sides divisible by {multiple}")
  leaves, tree = jax.tree_util.tree_flatten(variables)
  apply = eval_forward(cfg)

  def forward(weights, im1, im2, flow_f, flow_b):
    outputs = apply(jax.tree_util.tree_unflatten(tree, weights), im1, im2, flow_f, flow_b)
    return tuple(outputs[name] for name in OUTPUT_NAMES)

  return ExportSource(cfg, [np.asarray(leaf) for leaf in leaves], forward, tuple(lr_size), batch)
