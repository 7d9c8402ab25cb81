"""Training STARnet: objectives, sharded train step, checkpoints, config checks
(``config_checks``), data preparation (``data_setup``), held-out evaluation (``evaluation``),
the run itself (``trainer``: ``setup`` + ``train_loop``), preemption (``preemption``) and the
processes under jax.distributed (``peers``)."""
