"""The one type of a model config: :class:`ModelConfig`.

Every place outside the training config that holds a model's configuration holds a
``ModelConfig``: ``build_model``, the checkpoint's ``model_config.json``
(``star_jax.weights``), the converter's shape detection, the inference engine (its cache key)
and the export. The training config keeps a ``ConfigDict`` of the same fields
(``star_jax.train.config``, so ``--config.model.x=y`` overrides them) and hands it on through
:meth:`ModelConfig.from_mapping`.
"""

import dataclasses
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple

from star_jax.errors import UserInputError
from star_jax.model.blocks import PROJECTION_KSP
from star_jax.model.remat import REMAT_MODES

VARIANTS = tuple(f"V{v}{ref}" for ref in ("", "_REF") for v in (1, 2, 3, 4))
SCALES = tuple(sorted(PROJECTION_KSP))  # the release's projection kernels
# The model's compute (and parameter) dtypes; also the CLIs' --dtype, the export's dtypes and
# the chip peak tables' keys.
COMPUTE_DTYPES = ("float32", "bfloat16")

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
  refinement, 4x, full width). Frozen and hashable (a cache key); reads as a mapping too
  (``cfg["scale"]``, ``dict(cfg)``). Checked on construction: ``variant``, ``scale``,
  ``dtype``, ``param_dtype`` and ``remat`` outside their allowed values raise ValueError
  naming the field, the value and the allowed ones.

  Fields:
    variant: 'V1'..'V4' or 'V1_REF'..'V4_REF' (``_REF``: the flow-refinement wrapper).
    scale: 2, 4 or 8 (the release's projection kernels).
    base_filter, feat, n_resblock: the widths and residual depth of the release.
    dtype: 'float32' or 'bfloat16', the precision of convolutions and activations (mixed
      precision: parameters, and so optimiser state, stay ``param_dtype``; BatchNorm
      statistics, flows, output images and losses stay float32).
    param_dtype: the parameters' dtype ('float32' or 'bfloat16').
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

  def __post_init__(self):
    for name, allowed in _ALLOWED.items():
      value = getattr(self, name)
      if value not in allowed:
        raise UserInputError(f"model.{name}={value!r} is not one of "
                             f"{', '.join(map(str, allowed))}")

  @classmethod
  def from_mapping(cls, fields: Mapping[str, Any]) -> "ModelConfig":
    """A config from any mapping of its fields: the training config's ``config.model``
    ConfigDict (the one conversion from training to the model layer), a parsed
    ``model_config.json``, a dict. Missing fields take the defaults, so files written before
    a field existed still load.

    Raises:
      ValueError: a field this class does not have (named), or a value out of range.
    """
    unknown = set(dict(fields)) - set(cls.field_names())
    if unknown:
      raise UserInputError(f"unknown model config fields: {sorted(unknown)}")
    return cls(**dict(fields))

  @classmethod
  def field_names(cls):
    return tuple(field.name for field in dataclasses.fields(cls))

  def replace(self, **changes) -> "ModelConfig":
    """A copy with ``changes``; ValueError for an unknown field or a value out of range."""
    return self.from_mapping({**self.to_dict(), **changes})

  def differences(self, other: "ModelConfig",
                  fields: Optional[Sequence[str]] = None) -> Tuple[str, ...]:
    """The names of the fields (of ``fields``, default all) whose values differ between
    ``self`` and ``other``, in field order: the one comparison of two model configs (the
    trainer's ``init_from`` check, resuming a checkpoint, ``model_config.json`` against
    the stored weights)."""
    fields = self.field_names() if fields is None else tuple(fields)
    return tuple(f for f in self.field_names() if f in fields and self[f] != other[f])

  def describe(self, fields: Sequence[str]) -> str:
    """``fields`` as ``'scale=2, feat=8'``, for messages naming what :meth:`differences`
    found."""
    return ", ".join(f"{f}={self[f]}" for f in fields)

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


_ALLOWED = {"variant": VARIANTS, "scale": SCALES, "dtype": COMPUTE_DTYPES,
            "param_dtype": COMPUTE_DTYPES, "remat": REMAT_MODES}
