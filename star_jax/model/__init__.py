"""STARnet networks in Flax (linen, NHWC), mirroring the authors' PyTorch release."""

from star_jax.model.starnet import (COMPUTE_DTYPES, VARIANTS, FlowRefinedSTAR, abstract_variables,
                                    build_model, default_model_config, parse_variant,
                                    sample_inputs)
from star_jax.model.model_config import COMPUTE_FIELDS, SHAPE_FIELDS, ModelConfig
from star_jax.model.star_core import OUTPUT_NAMES, STARCore

__all__ = ["COMPUTE_DTYPES", "COMPUTE_FIELDS", "VARIANTS", "OUTPUT_NAMES", "SHAPE_FIELDS", "FlowRefinedSTAR",
           "ModelConfig", "STARCore", "abstract_variables", "build_model", "default_model_config",
           "parse_variant", "sample_inputs"]
