"""Training STARnet: objectives, sharded train step, checkpoints, the loop (``trainer``)."""
