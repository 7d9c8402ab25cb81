r"""Plan a run before paying for it: compile the real train step, eval step and (with
``--infer_size``) the inference engine's step for a TPU slice (or GPUs), on this machine's
CPU, and print what the compiler says: peak memory per chip against the chip's HBM, FLOPs,
its estimated step time, implied MFU and samples/s, collectives. Nothing is run ("compiled,
not run"); nothing needs a TPU or GPU (libtpu's compile-only devices: ``pip install -e
'.[plan]'``; XLA's CUDA plugin, which ``make install`` adds).

  python -m star_jax.plan --config=configs/star.py --topology=v5p-8 \
      --config.batch_size=4 --config.eval_batch_size=4 [--config.x=y ...] \
      [--infer_size=640x360] [--json=plan.json] [--sweep [--sweep_all_modes]]

``--topology``: the compiler's names (``v5p:2x2x1``, ``v5e:4x4``, ``v6e:2x2``, ``v4:2x2x1``) or
Cloud accelerator types (``v5p-8`` = 4 chips, ``v5litepod-16``, ``v6e-8``, ``v4-8`` = 4
chips; ``star_jax.plan.topology``); GPUs ``h100:8``, ``h200:4x8`` (hosts x GPUs; XLA's GPU
compiler gives memory but no FLOP count or time estimate); or ``cpu`` for this host's own
devices (XLA:CPU: no HBM size, no time estimate). Flags and overrides as
``star_jax.main``; ``--config.batch_size`` stays the global batch, split over the mesh's
``data`` axis (``--config.mesh_shape``). The train batch is ``data.patch_size`` crops, or the
dataset's whole frames when it is 0 (Vimeo-90K: LR 64x112 at x4); the eval batch whole
frames. A step XLA:TPU refuses for lack of HBM is reported as not fitting, with the bytes
its message names.

Each step prints a line when it starts compiling, one a minute while it compiles and one when
it is done. libtpu's start-up lines and every log record go to ``--log_file``, not to the
console. Errors follow ``star_jax.cli.common``'s policy: a bad flag, topology or config is one
``error:`` line and exit status 2; a failed compile one line and status 1; Ctrl-C status 130,
at once, even mid-compile (the compile is abandoned).
"""

import json
import logging
import os
import re
import sys

# The plan runs the host's CPU only: never let jax probe for (or grab) an accelerator, and
# let several plans share libtpu (compile-only devices touch no TPU). Explicit settings win.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from absl import app, flags  # pylint: disable=g-import-not-at-top,wrong-import-position

from star_jax import accelerators, files  # pylint: disable=g-import-not-at-top
from star_jax.cli import common  # pylint: disable=g-import-not-at-top
from star_jax.errors import UserInputError  # pylint: disable=g-import-not-at-top
from star_jax.plan import topology as topology_lib  # pylint: disable=g-import-not-at-top

common.define_config_flag()
flags.declare_key_flag("config")  # shown by --help with this module's flags
flags.DEFINE_string("topology", None, "TPU slice: v5p:2x2x1, v5e:4x4, v6e:2x2, v4:2x2x1, or a "
                    "Cloud accelerator type (v5p-8, v5litepod-16, v6e-8, v4-8); GPUs: h100:8, "
                    "h200:4x8 (hosts x GPUs); 'cpu' = this host's devices.")
flags.DEFINE_string("json", None, "Also write the plan as JSON to this file.")
flags.DEFINE_string("infer_size", None, "Also plan the inference engine's step for LR frames "
                    "of WIDTHxHEIGHT pixels (e.g. 640x360; each side 1 to 2**20), one frame "
                    "pair per chip (per S chips with a 'space' mesh axis of S).")
flags.DEFINE_bool("sweep", False, "Also find, for the config's dtype and remat mode, the "
                  "largest per-chip batch and (at batch 1) the largest LR crop whose train "
                  "step fits (one compile per probe, at most four per answer while the peak "
                  "grows linearly: slow).")
flags.DEFINE_bool("sweep_all_modes", False, "With --sweep: every dtype x remat mode, not only "
                  "the config's (six times the compiles).")
flags.DEFINE_list("steps", ["train", "eval"], "Steps to compile: train, eval, or nothing "
                  "(--steps=, e.g. with --sweep alone); infer is added by --infer_size.")
flags.DEFINE_string("log_file", "plan.log", "Where libtpu's output and all log records go.")
flags.DEFINE_bool("debug", False, "Show the traceback of an error.")
flags.mark_flags_as_required(["config", "topology"])
FLAGS = flags.FLAGS


def parse_flags(argv):
  """``common.parse_config_flags`` (``star_jax.main``'s policy: help exits 0, a bad flag or
  config is one ``error:`` line naming it, status 2) with ``--config`` and ``--topology``
  required."""
  return common.parse_config_flags(argv, ("config", "topology"))


MAX_INFER_SIDE = 2**20  # LR pixels; far beyond any chip's HBM, within XLA's 64-bit sizes


def parse_size(text: str):
  """'640x360' -> (640, 360) (width, height); UserInputError naming --infer_size unless both
  sides are whole numbers from 1 to :data:`MAX_INFER_SIDE`."""
  match = re.fullmatch(r"\s*([0-9]+)\s*[xX]\s*([0-9]+)\s*", text)
  sides = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
  if not 1 <= min(sides) <= max(sides) <= MAX_INFER_SIDE:
    raise UserInputError(f"--infer_size {text!r} must be WIDTHxHEIGHT in LR pixels, each side "
                         f"from 1 to {MAX_INFER_SIDE}, e.g. 640x360")
  return sides


def _devices(name: str, log_path: str):
  if name.strip().lower() == "cpu":
    import jax  # pylint: disable=g-import-not-at-top
    devices = jax.devices("cpu")
    return devices, {"name": "cpu", "accelerator_type": None, "num_chips": len(devices),
                     "device_kind": devices[0].device_kind}
  topology = topology_lib.parse_topology(name)
  devices = topology_lib.compile_only_devices(topology, log_path)
  return devices, {"name": topology.compiler_name, "accelerator_type": topology.accelerator_type,
                   "num_chips": topology.num_chips, "device_kind": devices[0].device_kind}


def run(config, topology: str, steps, infer_size, do_sweep: bool, json_path, log_path: str,
        sweep_all_modes: bool = False):
  """The plan: compiles, prints the table (and sweep), writes the JSON to ``json_path``
  (checked by :func:`output_path`) unless it is None; returns its dict. Raises
  UserInputError, before any compile, for an unknown step kind, nothing to plan, 'infer'
  without ``infer_size``, or a sweep on a chip of unlisted HBM."""
  from star_jax.plan import planner, report  # pylint: disable=g-import-not-at-top (heavy)
  from star_jax.plan import sweep as sweep_lib  # pylint: disable=g-import-not-at-top
  kinds = list(dict.fromkeys([kind.strip().lower() for kind in steps if kind.strip()]
                             + (["infer"] if infer_size else [])))
  if not kinds and not do_sweep:
    raise UserInputError("nothing to plan: --steps is empty and there is no --infer_size or "
                         "--sweep")
  planner.check_kinds(kinds, infer_size)  # before libtpu loads
  devices, described = _devices(topology, log_path)
  if do_sweep:
    sweep_lib.hbm_budget(devices)
  plans = {}
  if kinds:
    planner.check_plan(config, devices, kinds, infer_size)  # before the header: one error line
    print(f"planning {', '.join(kinds)} on {described['name']} ({described['num_chips']} x "
          f"{described['device_kind']}): compiled, not run; compiler output in {log_path}",
          flush=True)
    plans = planner.plan(config, devices, kinds, infer_size=infer_size, log_path=log_path,
                         progress=lambda line: print(f"  {line}", flush=True))
    print(report.table(plans, infer_size), flush=True)
  swept = None
  if do_sweep:
    modes = {} if sweep_all_modes else {"dtypes": [config.model.dtype],
                                         "remats": [config.model.remat]}
    swept = sweep_lib.sweep(config, devices, log_path=log_path, **modes,
                            progress=lambda line: print(f"  sweep: {line}", flush=True))
    for row in swept:
      print(f"sweep {row['compute_dtype']}/{row['remat']}: largest per-chip batch "
            f"{row['max_batch_per_chip']}, largest LR crop at 1 sample per chip: "
            f"{row['max_crop_at_batch_1']}", flush=True)
  result = report.plan_json(plans, described, config, swept, infer_size)
  if json_path is not None:
    files.write_text(json_path, json.dumps(result, indent=1) + "\n")
    print(f"wrote {json_path}", flush=True)
  estimated = any(step.estimated_step_s is not None for step in plans.values())
  print("every figure is compiled, not run" + (": estimated_step_s is the TPU compiler's own "
                                               "estimate" if estimated else ""), flush=True)
  return result


def output_path(flag: str, path: str) -> str:
  """``path`` (``star_jax.files.check_destination``: ``~`` expanded, made absolute) of a file
  this command writes, checked before hours of compiling rather than after: UserInputError
  naming ``flag`` when it is empty, a folder, or in a folder that does not exist."""
  resolved = files.check_destination(path, name=flag)
  if resolved.is_dir():
    raise UserInputError(f"{flag} {path} is a folder (give a file name)")
  return str(resolved)


def _log_to(log_path: str) -> None:
  """Every log record to ``log_path`` only (absl's console handler removed)."""
  handler = logging.FileHandler(log_path)
  handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(filename)s:%(lineno)d "
                                         "%(message)s"))
  root = logging.getLogger()
  for existing in list(root.handlers):
    root.removeHandler(existing)
  root.addHandler(handler)
  root.setLevel(logging.INFO)
  logging.captureWarnings(True)
  logging.info("run started: %s", " ".join(sys.argv))  # the log is appended to: where each starts


def main(argv):

  def action():
    if len(argv) > 1:
      raise UserInputError(f"unexpected argument {argv[1]!r}: options are --name=value (several "
                           "steps: --steps=train,eval)")
    platforms = os.environ["JAX_PLATFORMS"]  # '' = every platform jax finds, cpu included
    gpu = FLAGS.topology.strip().lower() != "cpu" and topology_lib.parse_topology(
        FLAGS.topology).is_gpu
    if gpu and platforms.strip().lower() != "cpu":  # jax would start the CUDA plugin
      raise UserInputError(f"JAX_PLATFORMS={platforms!r}: a GPU plan needs JAX_PLATFORMS=cpu "
                           "or unset (any other value starts XLA's CUDA plugin as a backend, "
                           "which needs a GPU)")
    if platforms.strip() and "cpu" not in [name.strip().lower() for name in platforms.split(",")]:
      raise UserInputError(f"JAX_PLATFORMS={platforms} leaves out cpu: the plan compiles on this "
                           "machine's CPU (TPU and GPU devices are compile-only); unset it or "
                           "add cpu")
    log_path = output_path("--log_file", FLAGS.log_file)
    json_path = None if FLAGS.json is None else output_path("--json", FLAGS.json)
    _log_to(log_path)
    if FLAGS.sweep_all_modes and not FLAGS.sweep:
      raise UserInputError("--sweep_all_modes needs --sweep")
    infer_size = None if FLAGS.infer_size is None else parse_size(FLAGS.infer_size)
    if gpu:
      topology_lib.use_gpu_plugin()  # before jax's first look for plugins
    # Imports (TensorFlow via clu) and libtpu print to the native stdout/stderr, which go to
    # the log file; the console gets our own lines through a copy of the real stdout.
    console = os.fdopen(os.dup(1), "w")
    saved_stdout, sys.stdout = sys.stdout, console
    try:
      with accelerators.native_output_to(log_path):
        return run(FLAGS.config, FLAGS.topology, FLAGS.steps, infer_size, FLAGS.sweep,
                   json_path, log_path, FLAGS.sweep_all_modes)
    finally:
      sys.stdout = saved_stdout
      console.close()

  _, code = common.call_reporting_errors(action, "planning failed", debug=FLAGS.debug,
                                         options={"infer_size": "--infer_size",
                                                  "kinds": "--steps"})
  if code is not None:
    planner = sys.modules.get("star_jax.plan.planner")
    if planner is not None and planner.compiling():
      # Ctrl-C during a compile, which cannot be stopped: leave now, not after it (an
      # interpreter shutdown would wait on it, or tear down what it uses).
      sys.stdout.flush()
      sys.stderr.flush()
      logging.shutdown()
      os._exit(code)  # pylint: disable=protected-access
    sys.exit(code)


def start() -> None:
  """The command (``python -m star_jax.plan``): absl's ``app.run`` with :func:`parse_flags`."""
  app.run(main, flags_parser=parse_flags)
