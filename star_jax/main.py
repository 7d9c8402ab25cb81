"""``python -m star_jax.main``: training; the command is ``star_jax.cli.train``."""

from star_jax.cli import train

if __name__ == "__main__":
  train.start()
