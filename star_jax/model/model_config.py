"""The one definition of a model config's fields: :class:`ModelConfig`.

Every place that needs the fields (``default_model_config`` for the experiment configs,
``build_model``, the checkpoint's ``model_config.json``, the converter's shape checks, the
trainer's ``init_from`` check) takes them from here.
"""

import dataclasses
from typing import Any, Dict, Iterator, Mapping

# The fields the weights' shapes determine (``star_jax.convert.detect_model_config``); two
# configs that differ in any other field load the same weights.
SHAPE_FIELDS = ("variant", "scale", "base_filter", "feat", "n_resblock")
# The fields that change how the model computes but not what: the same parameters give the
# same function up to rounding (bfloat16) or memory/compute trade-offs (remat), so a training
# run may resume with them changed (every other field is checked on resume).
COMPUTE_FIELDS = ("dtype", "remat")


@dataclasses.dataclass(frozen=True)
class ModelConfig(Mapping[str, Any]):
  """A STARnet model config; the defaults are the released network (V4 with flow
  refinement, 4x, full width). Reads as a mapping too (``cfg["scale"]``, ``dict(cfg)``).

  Fields:
    variant: 'V1'..'V4' or 'V1_REF'..'V4_REF' (``_REF``: the flow-refinement wrapper).
    scale: 2, 4 or 8 (the release's projection kernels).
    base_filter, feat, n_resblock: the widths and residual depth of the release.
    dtype: 'float32' or 'bfloat16', the precision of convolutions and activations (mixed
      precision: parameters, and so optimiser state, stay ``param_dtype``; BatchNorm
      statistics, flows, output images and losses stay float32).
    param_dtype: the parameters' dtype.
    remat: 'none' | 'blocks' | 'full' (``star_jax.model.remat``).
    skip_refinement, flow_noise_std: the V1 FR wrapper's switches (``FlowRefinedSTAR``;
      the noise std is in the network's flow units, pixels / 150).
    residual_bicubic: the opt-in output over bicubic of ``STARCore`` (False = the release;
      ``convert to-torch`` refuses True).
  """

  variant: str = "V4_REF"
  scale: int = 4
  base_filter: int = 256
  feat: int = 64
  n_resblock: int = 5
  dtype: str = "float32"
  param_dtype: str = "float32"
  remat: str = "none"
  skip_refinement: bool = False
  flow_noise_std: float = 0.0
  residual_bicubic: bool = False

  @classmethod
  def from_mapping(cls, fields: Mapping[str, Any]) -> "ModelConfig":
    """A config from any mapping (a ConfigDict, a parsed ``model_config.json``); missing
    fields take the defaults, so files written before a field existed still load.

    Raises:
      ValueError: a field this class does not have (named).
    """
    unknown = set(dict(fields)) - set(cls.field_names())
    if unknown:
      raise ValueError(f"unknown model config fields: {sorted(unknown)}")
    return cls(**dict(fields))

  @classmethod
  def field_names(cls):
    return tuple(field.name for field in dataclasses.fields(cls))

  def replace(self, **changes) -> "ModelConfig":
    return dataclasses.replace(self, **changes)

  def to_dict(self) -> Dict[str, Any]:
    return dataclasses.asdict(self)

  def __getitem__(self, name: str) -> Any:
    if name not in self.field_names():
      raise KeyError(name)
    return getattr(self, name)

  def __iter__(self) -> Iterator[str]:
    return iter(self.field_names())

  def __len__(self) -> int:
    return len(self.field_names())
