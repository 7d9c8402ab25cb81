"""Deployable STARnet: the eval forward exported as StableHLO (``jax.export``) or ONNX
(``jax2onnx``), each with a JSON sidecar, and a video consumer that runs the ONNX model in
onnxruntime.

Command line: ``python -m star_jax.export --help``. This package's ``__init__`` imports
nothing, so ``star_jax.export.loader`` (StableHLO, needs jax and NumPy only) can be used
without star_jax's model code or flax.
"""
