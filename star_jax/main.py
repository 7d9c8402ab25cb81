r"""Train (and evaluate) STARnet: ``python -m star_jax.main --config=configs/star.py --workdir=DIR``.

Overrides: ``--config.x=y`` (e.g. ``--config.total_steps=1000 --config.mesh_shape='(4,2)'``).
A workdir that already holds checkpoints is resumed exactly (parameters and data order).
Multi-host: set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID (or run
where jax.distributed auto-detects the cluster, e.g. Cloud TPU / SLURM) and pass
``--distributed``.
"""

import logging
import os
import sys

from absl import app, flags
import jax
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/*.py).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Where checkpoints, TensorBoard logs and the summary go.")
flags.DEFINE_bool("distributed", None, "Call jax.distributed.initialize() (default: when "
                  "JAX_COORDINATOR_ADDRESS is set).")
flags.DEFINE_bool("checkpoint_logs", False, "Show orbax's INFO lines (hidden by default: "
                  "it writes dozens per checkpoint, which buries the training log).")
flags.mark_flags_as_required(["config", "workdir"])
FLAGS = flags.FLAGS


class _HideCheckpointInfo(logging.Filter):
  """Drops orbax's INFO records; its warnings and errors still show."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or "/orbax/" not in record.pathname


def main(argv):
  del argv
  if not FLAGS.checkpoint_logs:
    logging.getLogger("absl").addFilter(_HideCheckpointInfo())  # orbax logs through absl
  distributed = FLAGS.distributed
  if distributed is None:
    distributed = "JAX_COORDINATOR_ADDRESS" in os.environ
  if distributed:
    env = lambda name, cast=str: cast(os.environ[name]) if name in os.environ else None
    jax.distributed.initialize(coordinator_address=env("JAX_COORDINATOR_ADDRESS"),
                               num_processes=env("JAX_NUM_PROCESSES", int),
                               process_id=env("JAX_PROCESS_ID", int))
  from star_jax.train import trainer  # pylint: disable=g-import-not-at-top (after init)
  logging.info("process %d/%d, %d local / %d global devices", jax.process_index(),
               jax.process_count(), jax.local_device_count(), jax.device_count())
  try:
    result = trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except (trainer.NonFiniteLossError, ValueError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  summary = " ".join(f"{k.split('/')[-1]}={v:.4f}" for k, v in sorted(result.eval_metrics.items()))
  print(f"done: step {result.step}, workdir {FLAGS.workdir}: {summary}", flush=True)


if __name__ == "__main__":
  app.run(main)
