"""STARnet networks in Flax (linen, NHWC), mirroring the authors' PyTorch release."""

from star_jax.model.model_config import (COMPUTE_DTYPES, COMPUTE_FIELDS, SCALES, SHAPE_FIELDS,
                                         VARIANTS, ModelConfig)
from star_jax.model.starnet import (FlowRefinedSTAR, abstract_variables, build_model,
                                    parse_variant, sample_inputs)
from star_jax.model.star_core import OUTPUT_NAMES, STARCore

__all__ = ["COMPUTE_DTYPES", "COMPUTE_FIELDS", "VARIANTS", "OUTPUT_NAMES", "SCALES",
           "SHAPE_FIELDS", "FlowRefinedSTAR", "ModelConfig", "STARCore", "abstract_variables",
           "build_model", "parse_variant", "sample_inputs"]
