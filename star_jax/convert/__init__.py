"""Weight conversion between the authors' PyTorch release and star_jax, and parity checks.

Library use::

    from star_jax.convert import load_weights
    model_cfg, variables = load_weights("STAR_4x.pth")     # or a star_jax checkpoint dir

Command line: ``python -m star_jax.convert --help``.
"""

from star_jax.convert.detect import detect_model_config
from star_jax.convert.mapping import (CheckpointMismatchError, state_dict_to_variables,
                                      variables_to_state_dict)
from star_jax.convert.weights import (abstract_variables, load_checkpoint, load_weights,
                                      release_to_variables, save_checkpoint)

__all__ = ["CheckpointMismatchError", "abstract_variables", "detect_model_config",
           "load_checkpoint", "load_weights", "release_to_variables", "save_checkpoint",
           "state_dict_to_variables", "variables_to_state_dict"]
