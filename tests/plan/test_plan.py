"""``python -m star_jax.plan`` end to end on compile-only TPU devices (libtpu, no TPU).

One command plans a narrow STARnet on ``v5e:2x2`` -- the train step (one 16x16 LR crop per
chip), the eval step at an absurd per-chip batch (4096 whole 64x112 frames per chip, far
beyond a v5e's 16 GiB, which XLA:TPU refuses to compile) and the inference step -- and is
checked field by field; the same train step planned on one CPU device must count the same
FLOPs. The narrowest model still takes the TPU compiler minutes of CPU (its time grows with
the number of operations, not their width), hence one command for all three.
"""

import fcntl
import functools
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from star_jax.errors import UserInputError
from star_jax.plan import planner, report
from star_jax.plan.hlo_collectives import COLLECTIVES
from star_jax.plan.topology import compile_only_devices, parse_topology
from star_jax.train import config as config_lib
from star_jax.train.config import base_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NARROW = {"model.variant": "V1", "model.base_filter": 8, "model.feat": 4,
          "model.n_resblock": 1, "data.patch_size": 16}
CHIPS = 4
ABSURD_PER_CHIP = 4096
STEP_FIELDS = ("kind", "compute_dtype", "remat", "global_batch", "batch_per_chip",
               "mesh_axis_sizes",
               "frame_height", "frame_width", "peak_bytes_per_chip", "argument_bytes",
               "output_bytes", "temp_bytes", "alias_bytes", "hbm_bytes_per_chip", "fits",
               "shortfall_bytes", "flops_per_chip", "model_flops_per_chip",
               "estimated_step_s", "peak_flops_per_chip", "implied_mfu", "samples_per_s",
               "bytes_accessed_per_chip", "hbm_bandwidth_per_chip", "roofline_step_s",
               "collectives", "compile_s", "compile_error", "advice")
POSITIVE = ("global_batch", "batch_per_chip", "frame_height", "frame_width",
            "peak_bytes_per_chip", "argument_bytes", "output_bytes",
            "hbm_bytes_per_chip", "flops_per_chip", "model_flops_per_chip",
            "estimated_step_s", "peak_flops_per_chip", "implied_mfu", "samples_per_s",
            "bytes_accessed_per_chip", "hbm_bandwidth_per_chip", "roofline_step_s",
            "compile_s")


def _overrides(fields):
  return [f"--config.{name}={value}" for name, value in fields.items()]


# One compile per test run, whatever xdist does: a session fixture is per worker, and a
# worker that momentarily has no next test tears its session fixtures down (CI compiled this
# plan twice, 175 s each). So the first worker to get here plans into the run's shared temp
# folder under a file lock; the others (and a re-setup) read the files.
@pytest.fixture(scope="session")
def planned(tmp_path_factory, worker_id):
  base = tmp_path_factory.getbasetemp()
  shared = base.parent if worker_id != "master" else base  # the run's folder under xdist
  out = shared / "plan_v5e"
  with open(shared / "plan_v5e.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not (out / "result.json").exists():
      out.mkdir(exist_ok=True)
      _plan_into(out)
  result = json.loads((out / "result.json").read_text())
  assert result["returncode"] == 0, result["stderr"]
  return (subprocess.CompletedProcess(result["args"], 0, result["stdout"], result["stderr"]),
          json.loads((out / "plan.json").read_text()), (out / "plan.log").read_text())


def _plan_into(out):
  """Runs the shared plan command in ``out``; its status and output go to result.json."""
  command = [sys.executable, "-m", "star_jax.plan", f"--config={REPO}/configs/star.py",
             "--topology=v5e:2x2", "--infer_size=24x16", f"--json={out}/plan.json",
             f"--log_file={out}/plan.log", "--steps=train,eval", f"--config.batch_size={CHIPS}",
             f"--config.eval_batch_size={ABSURD_PER_CHIP * CHIPS}"] + _overrides(NARROW)
  env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
  env["PYTHONPATH"] = REPO
  result = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True,
                          timeout=1800)
  (out / "result.json").write_text(json.dumps({
      "args": command, "returncode": result.returncode, "stdout": result.stdout,
      "stderr": result.stderr}))


@pytest.mark.xdist_group("plan_v5e")  # one worker compiles the shared plan
@pytest.mark.slow
def test_every_field_is_there_and_positive(planned):
  _, plan, _ = planned
  assert plan["compiled_not_run"] is True
  assert plan["topology"] == {"name": "v5e:2x2", "accelerator_type": "v5litepod-4",
                              "num_chips": CHIPS, "device_kind": "TPU v5 lite"}
  assert plan["versions"]["libtpu"]
  for kind in ("train", "eval", "infer"):
    assert set(plan[kind]) == set(STEP_FIELDS), kind
  # Every number's unit is written; the inference frame as asked (the step's is padded).
  numbers = {field for field, value in plan["infer"].items()
             if isinstance(value, (int, float)) and not isinstance(value, bool)}
  assert set(plan["units"]) == numbers | {"collectives", "mesh_axis_sizes"}
  assert plan["infer_size"] == {"width": 24, "height": 16}
  # XLA:TPU 0.0.42.1 gives this narrow V1 train step a negative optimal_seconds (-65 s; it
  # gives a positive one for the inference step here and for the full-width V4_REF train
  # step, benchmarks/results/plan.md): then the estimate and what derives from it are null.
  estimate = ("estimated_step_s", "implied_mfu", "samples_per_s")
  assert all(plan["train"][field] is None for field in estimate)
  for kind in ("train", "infer"):  # compiled: every other field is known
    step = plan[kind]
    for field in POSITIVE:
      if kind == "train" and field in estimate:
        continue
      assert step[field] > 0, (kind, field, step[field])
    assert set(step["collectives"]) == set(COLLECTIVES)
    assert step["peak_bytes_per_chip"] == pytest.approx(
        step["argument_bytes"] + step["output_bytes"] + step["temp_bytes"]
        - step["alias_bytes"])
    assert step["hbm_bytes_per_chip"] == 16 * 2**30
    assert step["fits"] is True and step["shortfall_bytes"] == 0 and step["advice"] == []
    assert step["compile_error"] is None
  infer = plan["infer"]
  assert infer["implied_mfu"] == pytest.approx(
      infer["model_flops_per_chip"] / (infer["estimated_step_s"] * 197e12))
  assert infer["samples_per_s"] == pytest.approx(infer["global_batch"]
                                                 / infer["estimated_step_s"])
  # The roofline bound where the compiler gives no estimate (the train step here), and
  # below the compiler's estimate where it gives one (inference).
  for kind in ("train", "infer"):
    step = plan[kind]
    assert step["hbm_bandwidth_per_chip"] == 819e9
    assert step["roofline_step_s"] == pytest.approx(max(
        step["flops_per_chip"] / step["peak_flops_per_chip"],
        step["bytes_accessed_per_chip"] / step["hbm_bandwidth_per_chip"]))
  assert infer["roofline_step_s"] <= infer["estimated_step_s"]
  # The train step keeps activations for the backward pass (the narrow forward needs no
  # temporaries at all on TPU), donates its state and averages gradients over the 4 chips.
  assert plan["train"]["temp_bytes"] > 0 and plan["infer"]["temp_bytes"] >= 0
  assert plan["train"]["alias_bytes"] > 0
  assert plan["train"]["collectives"]["all-reduce"]["count"] >= 1
  assert plan["train"]["collectives"]["all-reduce"]["bytes"] > 0
  assert (plan["infer"]["frame_height"], plan["infer"]["frame_width"]) == (32, 32)
  assert plan["train"]["mesh_axis_sizes"] == [CHIPS, 1, 1]


@pytest.mark.xdist_group("plan_v5e")  # one worker compiles the shared plan
@pytest.mark.slow
def test_an_absurd_per_chip_batch_does_not_fit_and_says_by_how_much(planned):
  result, plan, _ = planned
  step = plan["eval"]
  assert (step["global_batch"], step["batch_per_chip"]) == (ABSURD_PER_CHIP * CHIPS,
                                                            ABSURD_PER_CHIP)
  assert step["fits"] is False
  assert "RESOURCE_EXHAUSTED" in step["compile_error"]
  assert step["peak_bytes_per_chip"] > 16 * 2**30
  assert step["shortfall_bytes"] == pytest.approx(step["peak_bytes_per_chip"] - 16 * 2**30)
  assert step["model_flops_per_chip"] > 0 and step["compile_s"] > 0
  advice = " ".join(step["advice"])
  assert "model.dtype=bfloat16" in advice
  assert f"smaller per-chip batch (now {ABSURD_PER_CHIP}" in advice
  assert "eval does not fit" in result.stdout and "GiB over the 16.0 GiB of HBM" in result.stdout


@pytest.mark.xdist_group("plan_v5e")  # one worker compiles the shared plan
@pytest.mark.slow
def test_libtpu_noise_goes_to_the_log_not_the_console(planned):
  result, _, log = planned
  assert result.stderr == ""
  console = result.stdout
  for noise in ("TPU_ACCELERATOR_TYPE", "TPU_WORKER_HOSTNAMES", "WARNING", "E0000", "oneDNN"):
    assert noise not in console
  assert "TPU_WORKER_HOSTNAMES" in log  # libtpu's start-up complaint, kept in the log
  assert log.count("run started: ") == 1 and "--topology=v5e:2x2" in log
  assert "compiled, not run" in console


@pytest.mark.xdist_group("plan_v5e")  # one worker compiles the shared plan
@pytest.mark.slow
def test_each_step_says_when_it_starts_and_ends_compiling_then_the_table(planned):
  # A step compiling longer than planner.HEARTBEAT_S (a busy CI machine) also says so.
  lines = [line for line in planned[0].stdout.splitlines()
           if not re.fullmatch(r"  (train|eval|infer): still compiling, \d+ min so far", line)]
  assert lines[0].startswith("planning train, eval, infer on v5e:2x2 (4 x TPU v5 lite)")
  progress = [line.split(":")[0].strip() for line in lines[1:7]]
  assert progress == ["train", "train", "eval", "eval", "infer", "infer"], lines[:8]
  assert lines[1] == "  train: compiling ..."
  assert re.fullmatch(r"  train: compiled in \d+ s, peak \d+\.\d\d GiB per chip", lines[2])
  assert re.fullmatch(r"  eval: refused after \d+ s: out of device memory", lines[4])
  assert lines[7].split()[:2] == ["step", "batch/chip"]
  # Under the rows: the inference frame as asked and as padded; the steps without a time
  # estimate (the train step's is negative here; eval was refused).
  assert lines[11] == ("infer: one LR frame pair of 24x16 (WxH) per chip, padded to 32x32 "
                       "(HxW) for the network")
  assert lines[12].startswith("no time estimate for train: the compiler gave none or a "
                              "non-positive one")


@pytest.mark.xdist_group("plan_v5e")  # one worker compiles the shared plan
@pytest.mark.slow
def test_one_cpu_device_counts_the_same_flops(planned):
  """The train step at one sample on one CPU device (XLA:CPU's compiled count) against the
  TPU plan's per-chip model FLOPs; the TPU compiler's own count is higher (its k x k
  convolution accounting) but of the same order."""
  _, plan, _ = planned
  config = config_lib.with_fields(base_config(), batch_size=1, mesh_shape=(1, 1), **NARROW)
  import jax  # pylint: disable=g-import-not-at-top
  cpu = planner.plan_step("train", config, jax.devices("cpu")[:1], model_flops=False)
  assert plan["train"]["model_flops_per_chip"] == pytest.approx(cpu.flops_per_chip, rel=0.05)
  assert 1.0 <= plan["train"]["flops_per_chip"] / cpu.flops_per_chip < 2.0


def test_a_compile_reports_while_it_runs():
  """``heartbeat`` is called while XLA compiles (a real XLA:CPU compile of 300 chained ops,
  with a heartbeat every millisecond), with the seconds so far; Ctrl-C ends the wait, not
  the compile, which ``planner.compiling`` still reports."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  def chain(x):
    for i in range(300):
      x = jnp.sin(x * (i + 1)) @ x
    return x

  seen = []
  compile_8x8 = functools.partial(
      planner.compile_step, "infer", args=[jax.ShapeDtypeStruct((8, 8), jnp.float32)],
      devices=jax.devices("cpu")[:1], compute_dtype="float32", remat="none", global_batch=1,
      batch_per_chip=1, frame=(8, 8), heartbeat=seen.append)
  step = compile_8x8(jax.jit(chain), heartbeat_s=0.001)
  assert step.compile_error is None and step.memory["output_bytes"] == 8 * 8 * 4
  assert seen and seen == sorted(seen) and 0 < seen[0] <= step.compile_s
  assert not planner.compiling()

  # A real SIGINT, sent 50 ms into a ~1 s compile of another program while this thread
  # waits, ends the wait while the compile still runs, instead of after it.
  threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
  with pytest.raises(KeyboardInterrupt, match=r"^the infer step's compile was abandoned "
                                              r"after \d+ s$"):
    compile_8x8(jax.jit(lambda x: chain(x) + 1), heartbeat_s=60)
  assert planner.compiling()
  while planner.compiling():  # an interpreter exit under a running compile aborts
    time.sleep(0.05)


@pytest.mark.slow
def test_ctrl_c_mid_compile_exits_130_at_once(tmp_path):
  """SIGINT as the train step starts compiling for v5e:2x2 (its lowering on the worker
  thread, then XLA's 43 s compile): exit 130 at once with one line saying the compile was
  abandoned (no "compiled in" line, no table), not an abort under the running compile."""
  env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
  env["PYTHONPATH"] = REPO
  process = subprocess.Popen(
      [sys.executable, "-m", "star_jax.plan", f"--config={REPO}/configs/star.py",
       "--topology=v5e:2x2", "--steps=train", f"--config.batch_size={CHIPS}",
       f"--log_file={tmp_path}/plan.log"] + _overrides(NARROW),
      cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  lines = []
  for line in process.stdout:
    lines.append(line)
    if line == "  train: compiling ...\n":
      process.send_signal(signal.SIGINT)
      break
  stdout, stderr = process.communicate(timeout=600)
  lines.append(stdout)
  assert process.returncode == 130, (lines, stderr)
  assert re.fullmatch(r"error: interrupted: the train step's compile was abandoned after \d+ s",
                      stderr.strip().splitlines()[-1]), stderr
  assert "compiled in" not in "".join(lines) and "batch/chip" not in "".join(lines), lines


def test_advice_and_table_for_a_step_that_fits_and_one_that_does_not():
  memory = {"flops": 2e12, "argument_bytes": 4 * 2**30, "output_bytes": 4 * 2**30,
            "temp_bytes": 30 * 2**30, "alias_bytes": 4 * 2**30, "peak_bytes": 34 * 2**30}
  step = planner.StepPlan(kind="train", device_kind="TPU v6 lite", num_chips=8,
                          compute_dtype="float32", remat="none", global_batch=32,
                          batch_per_chip=4, frame_height=64, frame_width=112, memory=memory,
                          hbm_bytes_per_chip=32e9, peak_flops_per_chip=918e12,
                          estimated_step_s=0.5, collectives={}, compile_s=1.0,
                          model_flops_per_chip=1e12, mesh_axis_sizes=(8, 1, 1))
  assert step.fits is False
  assert step.shortfall_bytes == 34 * 2**30 - 32e9
  assert step.samples_per_s == 64.0
  assert math.isclose(step.implied_mfu, 1e12 / (0.5 * 918e12))
  tips = report.advice(step)
  assert [tip.split()[0] for tip in tips] == ["--config.model.remat=blocks",
                                              "--config.model.dtype=bfloat16", "a", "FSDP:",
                                              "ZeRO-1:"]
  assert ("--config.mesh_shape='(4,2)' (the 'data' axis halves: 8 samples per data-parallel "
          "group, not 4)") in tips[3]
  assert "train does not fit" in report.table({"train": step})
  zero1 = planner.StepPlan(**{**step.__dict__, "optimizer_state_sharded": True})
  assert [tip.split()[0] for tip in report.advice(zero1)][-1] == "FSDP:"
  # Arguments under a tenth of the peak still get the sharding tips when they are at least
  # the shortfall (a v5e space=4 crop: 1.41 GiB of state, 0.28 GiB short).
  near = {**memory, "argument_bytes": 2**30, "temp_bytes": 12 * 2**30,
          "peak_bytes": 32e9 + 2**29}
  assert [tip.split()[0] for tip in report.advice(planner.StepPlan(
      **{**step.__dict__, "memory": near}))][-2:] == ["FSDP:", "ZeRO-1:"]
  # No data-parallel chips (mesh (1, 8)): no ZeRO-1, and no mesh to suggest for FSDP; one
  # chip: no FSDP either.
  no_data = report.advice(planner.StepPlan(**{**step.__dict__, "mesh_axis_sizes": (1, 8, 1)}))
  assert no_data[-1].split()[0] == "FSDP:" and "mesh_shape" not in no_data[-1]
  assert "FSDP:" not in " ".join(report.advice(planner.StepPlan(
      **{**step.__dict__, "num_chips": 1, "mesh_axis_sizes": (1, 1, 1)})))
  # A space mesh (2, 1, 4) keeps its axis; (1, 1, 8) takes the model chips from it.
  for sizes, mesh, halves in (((2, 1, 4), "(1,2,4)", "data"), ((1, 1, 8), "(1,2,4)", "space"),
                              ((8, 1, 1), "(4,2)", "data")):
    fsdp = report.advice(planner.StepPlan(**{**step.__dict__, "mesh_axis_sizes": sizes}))
    assert f"--config.mesh_shape='{mesh}' (the '{halves}' axis halves" in " ".join(fsdp), sizes
  # A 'model' axis already there: shard over it, with the mesh as it is.
  fsdp = report.advice(planner.StepPlan(**{**step.__dict__, "mesh_axis_sizes": (4, 2, 1)}))
  assert "the mesh's 'model' axis (2 chips)" in " ".join(fsdp)
  assert "mesh_shape" not in " ".join(fsdp)
  far = {**near, "peak_bytes": 32e9 + 2 * 2**30}
  assert "FSDP:" not in " ".join(report.advice(planner.StepPlan(
      **{**step.__dict__, "memory": far})))
  # Eval: whole frames, so the batch tip names eval_batch_size, and there is no crop tip.
  evaluation = planner.StepPlan(**{**step.__dict__, "kind": "eval"})
  assert "--config.eval_batch_size" in " ".join(report.advice(evaluation))
  assert not [tip for tip in report.advice(planner.StepPlan(
      **{**evaluation.__dict__, "batch_per_chip": 1})) if "crop" in tip or "sweep" in tip]
  fitting = planner.StepPlan(**{**step.__dict__, "compute_dtype": "bfloat16",
                                "memory": {**memory, "peak_bytes": 2**30}})
  assert fitting.fits is True and report.advice(fitting) == []
  assert "does not fit" not in report.table({"train": fitting})


def test_bad_topology_is_one_error_line(tmp_path):
  env = dict(os.environ, PYTHONPATH=REPO)
  result = subprocess.run(
      [sys.executable, "-m", "star_jax.plan", f"--config={REPO}/configs/star.py",
       "--topology=v5p-6", f"--log_file={tmp_path}/plan.log"],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      "error: topology 'v5p-6': no listed v5p slice of that size (v5p-8, v5p-16, v5p-32, "
      "v5p-64, v5p-128, v5p-256, v5p-512, v5p-1024, v5p-2048, v5p-4096, v5p-8192)"]


@pytest.mark.parametrize("flags, line", [
    (["--topology=v5e:2x2", "--steps=train,evl"],
     "--steps evl: not a step (train, eval; infer comes with --infer_size)"),
    (["--topology=v5e:2x2", "--steps=infer"],
     "--steps infer needs --infer_size=WIDTHxHEIGHT (LR pixels)"),
    (["--topology=v5e:2x2", "--json=missing/plan.json"],
     "--json missing/plan.json: folder {tmp}/missing does not exist"),
    (["--topology=v5e:2x2", "--log_file=missing/plan.log"],
     "--log_file missing/plan.log: folder {tmp}/missing does not exist"),
    (["--topology=v5e:2x2", "--sweep_all_modes"], "--sweep_all_modes needs --sweep"),
    (["--topology=v5e:2x2", "--json="], "--json is empty (give a path)"),
    (["--topology=v5e:2x2", "--json=."], "--json . is a folder (give a file name)"),
    (["--topology=v5e:2x2", "--log_file="], "--log_file is empty (give a path)"),
    (["--topology=v5e:2x2", "--steps="],
     "nothing to plan: --steps is empty and there is no --infer_size or --sweep"),
    (["--topology=cpu", "--sweep"],
     "--sweep needs the HBM size of 'cpu', which star_jax.train.chip_peaks does not list"),
    (["--topology=v5e:2x2", "--json=/proc/plan.json"],
     "--json /proc/plan.json: cannot write in folder /proc (No such file or directory)"),
    (["--topology=v5e:2x2", "--steps", "eval", "train"],
     "unexpected argument 'train': options are --name=value (several steps: "
     "--steps=train,eval)"),
    (["--topology=v5e:2x2", "--infer_size=99999999999999999999x16"],
     "--infer_size '99999999999999999999x16' must be WIDTHxHEIGHT in LR pixels, each side from "
     "1 to 1048576, e.g. 640x360"),
    (["--topology=v5e:2x2", "--infer_size="],
     "--infer_size '' must be WIDTHxHEIGHT in LR pixels, each side from 1 to 1048576, e.g. "
     "640x360"),
    # A misspelt required flag is named as unknown, not as the required one missing.
    (["--topolgy=v5e:2x2"], "unknown flag --topolgy (did you mean --topology?)"),
    # Config refusals come before the 'planning ...' header (stdout stays empty).
    (["--topology=v5e:2x2", "--config.mesh_shape=(-1,1,3)", "--infer_size=64x36", "--steps="],
     "mesh_shape (-1, 1, 3) does not divide 4 devices"),
    (["--topology=cpu", "--config.mesh_shape=abc"],
     "mesh_shape must be (data, model) or (data, model, space) of whole numbers, got ('abc',)"),
    (["--topology=cpu", "--config.model.variant=V2", "--config.model.scale=2",
      "--config.data.patch_size=17"],
     "data.patch_size=17 must be a multiple of 2 for model.variant='V2' at model.scale=2 (its LR "
     "sides)"),
    ([], "--topology is required (TPU slice: v5p:2x2x1, v5e:4x4, v6e:2x2, v4:2x2x1, or a "
         "Cloud accelerator type (v5p-8, v5litepod-16, v6e-8, v4-8); GPUs: h100:8, h200:4x8 "
         "(hosts x GPUs); 'cpu' = this host's devices)"),
])
def test_bad_flags_are_one_error_line_before_any_compile(tmp_path, flags, line):
  env = dict(os.environ, PYTHONPATH=REPO)
  result = subprocess.run(
      [sys.executable, "-m", "star_jax.plan", f"--config={REPO}/configs/star.py", *flags],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
  assert (result.returncode, result.stderr.strip().splitlines(), result.stdout) == (
      2, ["error: " + line.format(tmp=tmp_path)], "")


@pytest.mark.parametrize("platforms, topology, line", [
    ("cuda", "v5e:2x2", "JAX_PLATFORMS=cuda leaves out cpu: the plan compiles on this "
     "machine's CPU (TPU and GPU devices are compile-only); unset it or add cpu"),
    # '' and 'cuda,cpu' hold cpu, but would start the CUDA plugin as a real backend.
    ("", "h100:8", "JAX_PLATFORMS='': a GPU plan needs JAX_PLATFORMS=cpu or unset (any other "
     "value starts XLA's CUDA plugin as a backend, which needs a GPU)"),
    ("cuda,cpu", "h200:2x8", "JAX_PLATFORMS='cuda,cpu': a GPU plan needs JAX_PLATFORMS=cpu or "
     "unset (any other value starts XLA's CUDA plugin as a backend, which needs a GPU)"),
])
def test_a_jax_platforms_that_cannot_work_is_refused_before_any_compile(tmp_path, platforms,
                                                                          topology, line):
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS=platforms)
  result = subprocess.run(
      [sys.executable, "-m", "star_jax.plan", f"--config={REPO}/configs/star.py",
       f"--topology={topology}"], cwd=tmp_path, env=env, capture_output=True, text=True,
      timeout=600)
  assert (result.returncode, result.stderr.strip().splitlines(), result.stdout) == (
      2, ["error: " + line], "")


@pytest.mark.slow
def test_gpus_without_a_gpu(tmp_path):
  """h100:8 through XLA's CUDA plugin (``make install`` puts it in <venv>/plan-gpu): memory
  against the H100's 80 GB, the model FLOPs; XLA:GPU gives no FLOP count or time estimate."""
  command = [sys.executable, "-m", "star_jax.plan", f"--config={REPO}/configs/star.py",
             "--topology=h100:8", "--infer_size=24x16", f"--json={tmp_path}/plan.json",
             f"--log_file={tmp_path}/plan.log", "--config.batch_size=8",
             "--config.eval_batch_size=8"] + _overrides(NARROW)
  env = dict(os.environ, PYTHONPATH=REPO)
  result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1800)
  assert result.returncode == 0, result.stderr
  assert result.stderr == "" and "cuda" not in result.stdout.lower()
  plan = json.loads((tmp_path / "plan.json").read_text())
  assert plan["topology"]["device_kind"] == "NVIDIA H100 80GB HBM3"
  assert plan["topology"]["num_chips"] == 8
  for kind in ("train", "eval", "infer"):
    step = plan[kind]
    assert step["fits"] is True and step["hbm_bytes_per_chip"] == 80e9
    assert 0 < step["peak_bytes_per_chip"] < 80e9
    assert step["model_flops_per_chip"] > 0 and step["peak_flops_per_chip"] > 0
    assert step["flops_per_chip"] is None and step["estimated_step_s"] is None
  assert plan["train"]["collectives"]["all-reduce"]["count"] >= 1


def test_a_missing_gpu_plugin_is_named_where_it_was_looked_for(tmp_path):
  env = dict(os.environ, PYTHONPATH=REPO, STAR_JAX_PLAN_GPU_PLUGIN=str(tmp_path / "none"))
  result = subprocess.run(
      [sys.executable, "-m", "star_jax.plan", f"--config={REPO}/configs/star.py",
       "--topology=h100:8", "--steps=eval"], cwd=tmp_path, env=env, capture_output=True,
      text=True, timeout=600)
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 1 and len(lines) == 1, result.stderr
  assert lines[0].startswith("error: planning failed (RuntimeError: XLA's CUDA plugin could not "
                             "describe h100:1x8")
  assert lines[0].endswith(f"installed in {tmp_path / 'none'} ($STAR_JAX_PLAN_GPU_PLUGIN)?)")


def test_only_the_planned_steps_batch_size_is_checked(tmp_path):
  """Four v5e chips: a global batch of 10 does not split over them; planning eval alone (or
  train alone) does not refuse the other step's batch size."""
  devices = compile_only_devices(parse_topology("v5e:2x2"), str(tmp_path / "libtpu.log"))
  config = config_lib.with_fields(base_config(), batch_size=10, eval_batch_size=4)
  planner.check_plan(config, devices, ["eval"])
  planner.check_config(config_lib.with_fields(config, batch_size=4, eval_batch_size=10),
                       devices, kinds=("train",))
  with pytest.raises(UserInputError, match=r"^batch_size=10 must be a positive multiple"):
    planner.check_plan(config, devices, ["train", "eval"])
  with pytest.raises(UserInputError, match=r"^eval_batch_size=10 must be"):
    planner.check_plan(config_lib.with_fields(config, batch_size=4, eval_batch_size=10), devices,
                       ["eval"])
