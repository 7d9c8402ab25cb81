"""star_jax: STARnet (Haris et al., CVPR 2020) in JAX/Flax, numerically matched to the authors' release."""

__version__ = "0.1.0"
