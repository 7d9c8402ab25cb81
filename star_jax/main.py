"""``python -m star_jax.main``: training; the command is ``star_jax.cli.train``."""

from absl import flags

from star_jax.cli import train

# --help lists the command's flags (absl shows the main module's own).
flags.adopt_module_key_flags(train)

if __name__ == "__main__":
  train.start()
