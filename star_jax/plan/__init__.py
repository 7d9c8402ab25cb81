"""Ahead-of-time plans: the real train, eval and inference steps compiled for accelerators a
host does not have (TPU slices through libtpu's compile-only devices, H100/H200 through XLA's
CUDA plugin), and what the compiler says about them ("compiled, not run").

Modules: ``topology`` (slice names, compile-only devices, libtpu output routing),
``planner`` (builds the steps from ``star_jax.train`` and ``star_jax.infer``, compiles them,
reads memory, FLOPs, the time estimate), ``hlo_collectives`` (collectives in the compiled
HLO), ``report`` (JSON, console table, advice), ``sweep`` (largest per-chip batch and crop
that fit); ``python -m star_jax.plan`` is the command (README, "Plan before paying").
"""
