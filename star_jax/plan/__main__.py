"""``python -m star_jax.plan``: the command is ``star_jax.cli.plan``."""

from star_jax.cli import plan

if __name__ == "__main__":
  plan.start()
