"""Conversion between the authors' PyTorch release and star_jax: reading and writing
release ``.pth`` files, the key-by-key mapping to Flax variables, detecting which STARnet a
state dict holds, and parity checks against the release's outputs.

Library use::

    from star_jax.convert import release_to_variables, torch_io
    model_cfg, variables = release_to_variables(torch_io.load_release_state_dict("STAR_4x.pth"))

Loading either a ``.pth`` or a star_jax checkpoint directory is ``star_jax.weights.load_weights``.
Command line: ``python -m star_jax.convert --help``.
"""

from star_jax.convert.detect import detect_model_config
from star_jax.convert.mapping import (CheckpointMismatchError, release_to_variables,
                                      state_dict_to_variables, variables_to_state_dict)

__all__ = ["CheckpointMismatchError", "detect_model_config", "release_to_variables",
           "state_dict_to_variables", "variables_to_state_dict"]
