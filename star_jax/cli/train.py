r"""Train (and evaluate) STARnet::

  python -m star_jax.main --config=configs/star.py --workdir=DIR \
      --config.data.dir=/data/vimeo_triplet

Overrides: ``--config.x=y`` (e.g. ``--config.total_steps=1000 --config.mesh_shape='(4,2)'``).
A workdir that already holds checkpoints is resumed exactly (parameters and data order).
Multi-host: set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID (or run
where jax.distributed auto-detects the cluster, e.g. Cloud TPU / SLURM) and pass
``--distributed``.

The console shows the run's own lines (config, progress, evaluations, checkpoints) and
warnings; every log record (third-party INFO lines, the parameter table, and the tracebacks
that orbax, TensorBoard's writer or a data worker log when something fails) also goes to
``<workdir>/train.log``, so a failure is one ``error:`` line on the console. ``--verbose``
shows everything on the console too.

At start the console says which devices the run uses (``star_jax.accelerators``:
``platform: gpu (device kind NVIDIA H100 80GB HBM3), process 0/1, 8 local / 8 global
devices``). ``config.require_accelerator`` (set by the paper configs and the launch scripts)
refuses to train on the CPU, e.g. on a GPU node whose jaxlib is the CPU build.

``--dry_run`` checks a command without running it: flags, the config
(``star_jax.train.config_checks``), the dataset's split lists, ``init_from`` (read and
compared with the config's model), the platform (on the CPU it says whether
``require_accelerator`` would refuse, and exits 0 all the same: a laptop can check a command
meant for a GPU node); it compiles, computes and writes nothing (not even the workdir). It
does not join a ``--distributed`` cluster, and a ``mesh_shape`` without -1 is checked as on
that many devices (the target's), saying so when this machine has another count.

Errors follow ``star_jax.cli.common``'s policy: a bad flag or config (an unknown field, with the
closest known names; a missing ``--workdir``; a workdir that cannot be created or written or
that another live run holds; the config or data the trainer refuses, a
``star_jax.errors.UserInputError``; ``JAX_PLATFORMS`` naming a platform whose plugin is not installed) is one
``error:`` line and exit status 2; a failed run (e.g. a non-finite loss, a checkpoint that
cannot be written) one line and status 1; Ctrl-C status 130; ``--debug`` shows the
traceback. The workdir is checked before ``train.log`` is opened in it.

SIGTERM (a preemption notice) or Ctrl-C during training: the step in flight finishes, all
processes agree on one step, its checkpoint is saved and waited for, one line says
``preempted at step N: saved checkpoint N in DIR ...`` and the exit status is 143 (SIGTERM)
or 130 (SIGINT); a second Ctrl-C stops at once (status 130, nothing saved). Rerunning the
same command resumes there (``star_jax.train.preemption``).

Under jax.distributed, a process silent for ``config.lost_process_timeout_seconds`` (30 s)
makes the others exit with one ``error: lost process K of N ...`` line and status 1, and the
C++ runtime's own output goes to ``<workdir>/train.log`` (``star_jax.train.peers``). Each
process trains in a child of the command, so that the loss of process 0 (the coordinator,
whose loss jaxlib answers with a C++ abort within seconds) is one ``error: lost process 0
...`` line and status 1 too (``star_jax.train.supervisor``).
"""

import logging
import math
import os
import pathlib
import sys

# TensorFlow (imported by tfds and clu, used only for reading data) prints C++ INFO lines
# at import, among them a oneDNN notice that TF_CPP_MIN_LOG_LEVEL does not silence; oneDNN
# only affects TensorFlow's own ops, none of which compute the model. Explicit settings win.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from absl import app, flags  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
import jax  # pylint: disable=g-import-not-at-top

from star_jax import accelerators  # pylint: disable=g-import-not-at-top
from star_jax.cli import common  # pylint: disable=g-import-not-at-top
from star_jax.errors import UserInputError  # pylint: disable=g-import-not-at-top
from star_jax.train import log_routing, peers, supervisor  # pylint: disable=g-import-not-at-top

common.define_config_flag()
flags.declare_key_flag("config")  # shown by --help with this module's flags
flags.DEFINE_string("workdir", None, "Where checkpoints, TensorBoard logs and the summary go.")
flags.DEFINE_bool("distributed", None, "Call jax.distributed.initialize() (default: when "
                  "JAX_COORDINATOR_ADDRESS is set).")
flags.DEFINE_bool("checkpoint_logs", False, "Also show orbax's INFO lines on the console "
                  "(dozens per checkpoint; always in <workdir>/train.log).")
flags.DEFINE_bool("verbose", False, "Show every log record on the console, not only the "
                  "run's own lines and warnings (all are in <workdir>/train.log).")
flags.DEFINE_bool("debug", False, "Show the traceback of an error (otherwise an error is one "
                  "error: line).")
flags.DEFINE_bool("dry_run", False, "Check the flags, the config, the data's split lists, "
                  "init_from and the platform, then stop: nothing is compiled or written.")
REQUIRED_FLAGS = ("config", "workdir")
flags.mark_flags_as_required(REQUIRED_FLAGS)
FLAGS = flags.FLAGS
# config.require_accelerator as a command line says it, and its opt-out.
REQUIREMENT = ("config.require_accelerator", "pass --config.require_accelerator=False")


def config_summary(config) -> str:
  """The fields that say what a run trains, on one line."""
  m, d, o = config.model, config.data, config.optimizer
  steps = f"{config.total_steps} steps" if config.total_steps else f"{config.num_epochs} epochs"
  extras = [name for name, on in (("output over bicubic", m.residual_bicubic),) if on]
  return (f"{m.variant} x{m.scale} (base_filter {m.base_filter}, feat {m.feat}, n_resblock "
          f"{m.n_resblock}{''.join(', ' + e for e in extras)}), objective {config.objective}, "
          f"data {d.dir} ({'whole frames' if not d.patch_size else f'{d.patch_size}-px patches'}"
          f", batch {config.batch_size}), {o.name} lr {o.learning_rate:g}, {steps}, "
          f"init: transposed {config.init_transposed}, kernel gain {config.init_kernel_scale:g}")


def parse_flags(argv):
  """``common.parse_config_flags`` with this command's required flags (``--config``,
  ``--workdir``): help exits 0, a bad flag or config is one ``error:`` line, status 2."""
  return common.parse_config_flags(argv, REQUIRED_FLAGS)


def start_platform(config, log_file: pathlib.Path) -> None:
  """Starts jax's backend (``accelerators.start_backend``: a ``JAX_PLATFORMS`` whose plugin
  is missing is a UserInputError; libtpu's start-up lines on a machine without a TPU go to
  ``log_file``) and logs the platform line; refuses the CPU when
  ``config.require_accelerator`` (UserInputError naming the cause and the fix)."""
  accelerators.start_backend(str(log_file))
  logging.info("%s", accelerators.platform_line())
  if config.get("require_accelerator", False):
    accelerators.require_accelerator(*REQUIREMENT)


def dry_run(config, workdir: str) -> None:
  """``--dry_run``: checks what can be checked without compiling or writing anything and
  prints one line per check (module docstring).

  Raises:
    UserInputError: ``JAX_PLATFORMS`` names a platform that cannot start, an impossible
      config, a missing dataset split list, a missing ``init_from`` or one of another model.
  """
  from star_jax.train import config_checks, data_setup, trainer  # pylint: disable=g-import-not-at-top
  if not FLAGS.verbose:  # the console has no log file beside it here: jax's INFO lines go
    absl_logging.set_verbosity(absl_logging.WARNING)
  accelerators.start_backend()
  print(accelerators.platform_line())
  num_devices = jax.device_count()
  mesh = tuple(config.mesh_shape)
  if -1 not in mesh and math.prod(mesh) != num_devices:
    num_devices = math.prod(mesh)
    print(f"mesh_shape {mesh}: checked as on {num_devices} devices (this machine has "
          f"{jax.device_count()})")
  config_checks.validate(config, num_devices=num_devices, num_processes=1)
  print(f"config: {config_summary(config)}")
  d = config.data
  if d.generate_demo:
    print(f"data: the demo dataset is generated into {d.dir} when missing")
  elif d.source == "tfds":
    if not pathlib.Path(d.tfds_data_dir).is_dir():
      raise UserInputError(f"config.data.tfds_data_dir {d.tfds_data_dir} does not exist")
    print(f"data: tfds build {d.tfds_config} in {d.tfds_data_dir}")
  else:
    counts = {split: data_setup.num_clips(config, split) for split in (d.train_split,
                                                                       d.eval_split)}
    print(f"data: {d.dir}: " + ", ".join(f"{n} {split} triplets" for split, n in counts.items()))
  if config.init_from:
    model_cfg, _ = trainer.init_from_weights(config)
    print(f"init_from: {config.init_from} ({model_cfg.variant} x{model_cfg.scale}, fits the "
          "config's model)")
  if config.get("require_accelerator", False):
    try:
      accelerators.require_accelerator(*REQUIREMENT)
    except UserInputError as refusal:
      print(f"platform: a real run here would stop with: error: {refusal}")
  print(f"dry run: nothing compiled or written (workdir {workdir})", flush=True)


def main(argv):
  del argv
  if FLAGS.dry_run:
    _, code = common.call_reporting_errors(lambda: dry_run(FLAGS.config, FLAGS.workdir),
                                           "dry run failed", debug=FLAGS.debug)
    sys.exit(code or 0)
  distributed = FLAGS.distributed
  if distributed is None:
    distributed = "JAX_COORDINATOR_ADDRESS" in os.environ
  if distributed and not supervisor.is_child():  # the coordinator's loss is one line too
    sys.exit(supervisor.run_child(pathlib.Path(FLAGS.workdir).absolute() / log_routing.LOG_FILE))
  from star_jax.train import preflight  # pylint: disable=g-import-not-at-top (light, no jax)
  _, code = common.call_reporting_errors(lambda: preflight.prepare_workdir(FLAGS.workdir),
                                         "cannot prepare the workdir", debug=FLAGS.debug)
  if code is not None:
    sys.exit(code)
  log_file = log_routing.route_logs(FLAGS.workdir, FLAGS.verbose, FLAGS.checkpoint_logs)
  logging.info("all log lines: %s", log_file)
  logging.info("config: %s", config_summary(FLAGS.config))
  watch = None
  if distributed:  # C++ messages to train.log; a lost process is one line (star_jax.train.peers)
    peers.route_native_stderr(log_file)
    env = lambda name, cast=str: cast(os.environ[name]) if name in os.environ else None
    watch = peers.initialize(FLAGS.config.lost_process_timeout_seconds,
                             coordinator_address=env("JAX_COORDINATOR_ADDRESS"),
                             num_processes=env("JAX_NUM_PROCESSES", int),
                             process_id=env("JAX_PROCESS_ID", int))
    supervisor.record_identity(watch.process_id, watch.num_processes, watch.coordinator)
  _, code = common.call_reporting_errors(lambda: start_platform(FLAGS.config, log_file),
                                         "starting jax's backend failed", debug=FLAGS.debug)
  if code is not None:
    peers.finish(watch, f"it failed, exit status {code}; its console says why", code)
    sys.exit(code)
  # pylint: disable-next=g-import-not-at-top (after init)
  from star_jax.train import evaluation, preemption, trainer
  try:
    result, code = common.call_reporting_errors(
        lambda: peers.run_watched(
            watch, lambda: trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)),
        "training failed", debug=FLAGS.debug)
  except preemption.Preempted as stop:
    peers.finish(watch, "preempted")
    print(stop.line(), flush=True)
    sys.exit(stop.exit_status)
  if code is not None:
    peers.finish(watch, f"it failed, exit status {code}; its console says why", code)
    sys.exit(code)
  peers.finish(watch, "done")
  print(f"done: step {result.step}, workdir {FLAGS.workdir}", flush=True)
  print(evaluation.summary_line(result.eval_metrics), flush=True)


def start() -> None:
  """The command (``python -m star_jax.main``): absl's ``app.run`` with :func:`parse_flags`."""
  app.run(main, flags_parser=parse_flags)
