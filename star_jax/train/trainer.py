"""The training run behind ``python -m star_jax.main``, in two parts: :func:`setup` (config
checks, data and flow cache, mesh, model, state restored or created, jitted steps) and
:func:`train_loop` (the sharded train step compiled ahead of the loop, its XLA FLOPs and peak
memory logged once; throughput and MFU (``star_jax.train.throughput``), optional profiles
(``config.profile_steps``), periodic held-out evaluation (``star_jax.train.evaluation``),
metrics and checkpoints, exact resume). Data preparation is ``star_jax.train.data_setup``;
the config checks are ``star_jax.train.config_checks``."""

import contextlib
import dataclasses
import functools
import logging
import math
import pathlib
import time
from typing import Any, Dict, Optional

from clu import metric_writers, parameter_overview
from flax import traverse_util
import jax
import jax.numpy as jnp

from star_jax.data import pipeline
from star_jax.errors import UserInputError
from star_jax.model import SHAPE_FIELDS, ModelConfig, build_model, sample_inputs
from star_jax.train import checkpoints, compiled_stats, config_checks, data_setup, evaluation
from star_jax.train import preemption, preflight, profiling, sharding
from star_jax.train import step as step_lib
from star_jax.train import throughput
from star_jax.weights import load_weights, save_checkpoint
from star_jax.train.config import TrainConfig
from star_jax.train.state import TrainState, create_state, learning_rate_schedule, make_optimizer


EXPORT_DIR = "model"  # <workdir>/model: final weights + model_config.json


class NonFiniteLossError(RuntimeError):
  """Training produced a NaN/Inf loss; the last good checkpoint is left as it was."""


class CheckpointSaveError(RuntimeError):
  """Writing a checkpoint failed (disk full, permissions, ...); the run stops at once and the
  previous checkpoint is left as it was."""


@dataclasses.dataclass
class TrainResult:
  """The step a run ended at, and its last held-out metrics (``evaluation.evaluate``)."""

  step: int
  eval_metrics: Dict[str, float]


def _perceptual_features(config):
  if config.loss != "Lf":
    return None
  from star_jax.convert.vgg import load_vgg19_variables  # pylint: disable=g-import-not-at-top
  from star_jax.model.vgg import VGG19Features  # pylint: disable=g-import-not-at-top
  vgg_variables = jax.tree_util.tree_map(jnp.asarray, load_vgg19_variables(config.vgg19_weights))
  vgg = VGG19Features()
  return lambda images: vgg.apply(jax.lax.stop_gradient(vgg_variables), images)


def init_from_weights(config):
  """``(model config, variables)`` of ``config.init_from`` (a release ``.pth`` or a star_jax
  checkpoint directory, ``star_jax.weights.load_weights``).

  Raises:
    UserInputError: no such path, a folder that is not a star_jax checkpoint, weights that
      cannot be read as STARnet weights (the message names ``init_from``), or weights of
      another model than ``config.model`` (its shape fields).
  """
  try:
    model_cfg, variables = load_weights(config.init_from)
  except UserInputError as error:
    raise UserInputError(f"init_from: {error}") from error
  wanted = ModelConfig.from_mapping(config.model)
  fields = model_cfg.differences(wanted, SHAPE_FIELDS)
  if fields:
    raise UserInputError(f"init_from {config.init_from} holds a different model: the weights are "
                         f"{model_cfg.describe(fields)} but the config says "
                         f"{wanted.describe(fields)}")
  return model_cfg, variables


def initial_state(config, model, tx, shardings) -> TrainState:
  """The initial train state, created directly in its shardings: from ``config.init_from``
  (fine-tuning; the checkpoint must hold the configured model) or fresh from ``config.seed``."""
  if not config.init_from:
    init = functools.partial(create_state, model, tx, sample_inputs=sample_inputs(),
                             init_kernel_scale=config.init_kernel_scale,
                             init_kernel_gains=config.init_kernel_gains,
                             init_transposed=config.init_transposed)
    return jax.jit(init, out_shardings=shardings)(jax.random.key(config.seed))
  _, variables = init_from_weights(config)
  state = create_state(model, tx, None, sample_inputs(), initial_variables=dict(variables))
  return jax.device_put(state, shardings)


@dataclasses.dataclass
class TrainProgram:
  """What the train step is built from (:func:`build_program`): the Flax module, the
  optax optimiser and its learning-rate schedule, the train state's shapes and dtypes
  (``jax.ShapeDtypeStruct`` leaves) and its shardings on the mesh."""

  model: Any
  tx: Any
  schedule: Any
  abstract_state: TrainState
  state_shardings: Any


def build_program(config, mesh, steps_per_epoch: int) -> TrainProgram:
  """The model (``config.model``), optimiser (``config.optimizer``, the step-decay schedule
  for ``steps_per_epoch``), the abstract train state and its shardings on ``mesh``
  (``config.param_sharding``, unmatched leaves replicated; with
  ``config.shard_optimizer_state`` the optimiser state also split over 'data' and 'space':
  ``sharding.zero1_shardings``). Nothing is computed: the same
  program serves training (:func:`setup`) and ahead-of-time planning (``star_jax.plan``).
  Raises ValueError for an unknown optimiser or model field."""
  schedule = learning_rate_schedule(config.optimizer.learning_rate, steps_per_epoch,
                                    config.lr_decay_every_epochs, config.lr_decay_factor)
  tx = make_optimizer(config, schedule)
  model = build_model(ModelConfig.from_mapping(config.model))
  abstract_state = jax.eval_shape(functools.partial(
      create_state, model, tx, sample_inputs=sample_inputs()), jax.random.key(0))
  state_shardings = sharding.param_shardings(abstract_state, mesh, config.param_sharding)
  if config.shard_optimizer_state:
    state_shardings = sharding.zero1_shardings(abstract_state, state_shardings, mesh)
  return TrainProgram(model=model, tx=tx, schedule=schedule, abstract_state=abstract_state,
                      state_shardings=state_shardings)


def jit_train_step(config, model, tx, schedule, mesh, state_shardings, features=None):
  """The train step compiled for ``mesh``: the batch as ``sharding.global_batch`` places it
  (samples on 'data', image heights on 'space', split there inside the step when 'space'
  does not divide them, traced under the mesh: ``sharding.on_mesh``), state as ``state_shardings``,
  with ``config.shard_optimizer_state`` the gradients as its parameters (without it XLA
  places them), metrics replicated, the old state's buffers donated."""
  step = functools.partial(step_lib.train_step, model=model, tx=tx, seed=config.seed,
                           objective=config.objective, loss_type=config.loss,
                           schedule=schedule, features=features,
                           grad_shardings=(state_shardings.params
                                           if config.shard_optimizer_state else None))
  return jax.jit(sharding.on_mesh(step, mesh), in_shardings=(state_shardings, None),
                 out_shardings=(state_shardings, sharding.replicated(mesh)),
                 donate_argnums=(0,))


def compile_train_step(train_fn, state, batch):
  """Compile ``train_fn`` (a ``jit_train_step``) ahead of the loop for ``state`` and
  ``batch``; returns (compiled step, ``compiled_stats.compiled_step_stats``, seconds)."""
  start = time.perf_counter()
  lowered = train_fn.lower(state, batch)
  compiled = lowered.compile()
  seconds = time.perf_counter() - start
  return compiled, compiled_stats.compiled_step_stats(compiled, lowered), seconds


def _compute_dtype(config) -> str:
  return "bfloat16" if config.model.get("dtype", "float32") == "bfloat16" else "float32"


@contextlib.contextmanager
def _untimed(meter: throughput.ThroughputMeter, state):
  """Leaves the time of the block (evaluation, checkpointing) out of ``meter``'s rates; the
  steps already dispatched finish first, so their time stays training time."""
  jax.block_until_ready(state)
  start = time.perf_counter()
  try:
    yield
  finally:
    meter.exclude(time.perf_counter() - start)


def hparams(config: TrainConfig) -> Dict[str, str]:
  """Every config field, nested ones included, as '.'-joined names ('model.variant',
  'data.dir', 'optimizer.learning_rate', ...) with ``str`` values, for TensorBoard's
  hparams."""
  flat = traverse_util.flatten_dict(config.to_dict(), sep=".")
  return {name: str(value) for name, value in sorted(flat.items())}


@dataclasses.dataclass
class TrainSetup:
  """What :func:`setup` builds and :func:`train_loop` runs.

  Attributes:
    config, workdir: the run's config and (absolute) workdir.
    mesh: the ('data', 'model', 'space') device mesh.
    model, tx: the Flax module and the optax optimiser.
    state: the train state (restored, fine-tuned from ``init_from``, or fresh), in
      ``state_shardings``.
    start_step: the step ``state`` holds (0 for a fresh run).
    total_steps, steps_per_epoch: the run's length.
    train_iter: the training data iterator, restored with the state.
    manager: the orbax checkpoint manager of ``<workdir>/checkpoints``.
    writer: the clu metric writer (TensorBoard, workdir).
    train_fn: :func:`jit_train_step`'s function (compiled in :func:`train_loop`).
    eval_fn: ``evaluation.jit_eval_step``'s function.
  """

  config: TrainConfig
  workdir: pathlib.Path
  mesh: jax.sharding.Mesh
  model: Any
  tx: Any
  state: TrainState
  start_step: int
  total_steps: int
  steps_per_epoch: int
  train_iter: Any
  manager: Any
  writer: Any
  train_fn: Any
  eval_fn: Any


def setup(config: TrainConfig, workdir: str) -> TrainSetup:
  """Everything a run needs before its first step: makes sure the workdir is writable and
  takes its lock (process 0; ``preflight``), checks the config (``config_checks.validate``)
  and the data (``preflight.check_data``, after generating the demo dataset when asked),
  prepares the flow caches (``data_setup.prepare_data``), builds the mesh, model, optimiser
  and shardings, restores the latest checkpoint of ``workdir`` (or creates the initial
  state; a resume says what the config changed, ``preflight.resume_changes``), opens the
  metric writer (a fresh or changed run logs the flattened config as hparams; a fresh one the
  parameter overview) and jits the train and eval steps.

  Args:
    config: the training config (``star_jax.train.config``).
    workdir: where checkpoints, logs and the final weights go (created if missing).
  Returns:
    a :class:`TrainSetup`.
  Raises:
    UserInputError: an unwritable or busy workdir (``preflight.WorkdirError``), an
      impossible config (``config_checks.validate``), data the config cannot use
      (``preflight.check_data``), a flow cache made with other settings, a checkpoint or
      ``init_from`` that holds another model, a missing dataset, split list or clip.
  """
  workdir = preflight.prepare_workdir(workdir)
  if jax.process_index() == 0:
    preflight.lock_workdir(workdir)
  config_checks.validate(config)
  data_setup.generate_demo_data(config)
  preflight.check_data(config)
  data_setup.prepare_data(config)
  mesh = sharding.make_mesh(config.mesh_shape)

  num_train_clips = data_setup.num_clips(config, config.data.train_split)
  steps_per_epoch = max(1, num_train_clips // config.batch_size)
  total_steps = config.total_steps or config.num_epochs * steps_per_epoch
  program = build_program(config, mesh, steps_per_epoch)
  model, tx, schedule = program.model, program.tx, program.schedule
  abstract_state, state_shardings = program.abstract_state, program.state_shardings

  train_ds = pipeline.make_dataset(data_setup.pipeline_config(
      config, config.data.train_split, True, config.batch_size))
  train_iter = iter(train_ds)
  manager = checkpoints.make_manager(workdir, config.keep_checkpoints)
  state = checkpoints.restore_latest(
      manager, checkpoints.abstract_with_shardings(abstract_state, state_shardings), train_iter,
      model_config=ModelConfig.from_mapping(config.model))
  changes = []
  if state is None:
    state = initial_state(config, model, tx, state_shardings)
    start_step = 0
  else:
    start_step = int(state.step)
    logging.info("resumed from %s at step %d", manager.directory, start_step)
    changes = preflight.resume_changes(checkpoints.saved_config(manager, start_step), config,
                                       num_train_clips, start_step)
    for line in changes:
      logging.warning("resume: %s", line)

  writer = metric_writers.create_default_writer(
      str(workdir), just_logging=jax.process_index() > 0, asynchronous=True)
  if start_step == 0:
    parameter_overview.log_parameter_overview(state.params)
  if start_step == 0 or changes:
    writer.write_hparams(hparams(config))

  features = _perceptual_features(config)
  train_fn = jit_train_step(config, model, tx, schedule, mesh, state_shardings, features)
  eval_fn = evaluation.jit_eval_step(model, int(config.model.scale), mesh, state_shardings)
  return TrainSetup(config=config, workdir=workdir, mesh=mesh, model=model, tx=tx, state=state,
                    start_step=start_step, total_steps=total_steps,
                    steps_per_epoch=steps_per_epoch, train_iter=train_iter, manager=manager,
                    writer=writer, train_fn=train_fn, eval_fn=eval_fn)


def train_loop(run: TrainSetup) -> TrainResult:
  """Trains from ``run.start_step`` to ``run.total_steps``: compiles the step ahead of the
  loop (logging its FLOPs, peak memory and the chip's peak), then per step: profile window,
  finiteness check (one step late, so the host does not wait), scalars and rates every
  ``log_every_steps``, checkpoints every ``checkpoint_every_steps`` and then held-out
  evaluation every ``eval_every_steps`` (both also at the last step; their time is left out
  of the rates; the save comes first, so a failing evaluation keeps the step's checkpoint).
  A resumed finished run is evaluated once. Waits for the last checkpoint, also when the
  run fails (the error is told once the save in flight is complete). SIGTERM or Ctrl-C
  saves the step reached and stops (``star_jax.train.preemption``; a second Ctrl-C at once).

  Args:
    run: :func:`setup`'s result; ``run.state`` is donated to the step and not usable after.
  Returns:
    a :class:`TrainResult` (the last step and the last held-out metrics); the final state
    is in the last checkpoint.
  Raises:
    NonFiniteLossError: a NaN/Inf loss with ``halt_on_nonfinite``; names the batch's clips
      (the last good checkpoint is left intact).
    CheckpointSaveError: a checkpoint could not be written (e.g. disk full): raised within a
      step of the failure, the previous checkpoint intact.
  """
  config, mesh, manager, writer = run.config, run.mesh, run.manager, run.writer
  state, start_step, total_steps = run.state, run.start_step, run.total_steps
  train_iter = run.train_iter
  profiler = profiling.StepProfiler(config.profile_steps, run.workdir, start_step)
  eval_metrics: Dict[str, float] = {}
  pending: Optional[Dict[str, Any]] = None  # last step's metrics, checked one step late

  def check_finite(metrics, at_step, clips):
    loss = float(metrics["loss/total"])
    if not math.isfinite(loss):
      _finish_saves(manager)
      where = f" on process {jax.process_index()}" if jax.process_count() > 1 else ""
      raise NonFiniteLossError(
          f"loss became {loss} at step {at_step} on the batch of clips {', '.join(clips)}"
          f"{where}; stopping. The last good checkpoint (step {manager.latest_step()}) in "
          f"{manager.directory} is intact. Clips whose frames or cached flows cannot be read "
          "or hold NaN/Inf stop the run naming their file (or are skipped with "
          "data.skip_corrupt=True); finite data points at the optimisation (e.g. the "
          "learning rate)")

  logging.info("training %s for %d steps (%d per epoch), mesh %s", config.model.variant,
               total_steps, run.steps_per_epoch, dict(mesh.shape))
  first_step = start_step + 1
  guard = preemption.PreemptionGuard()  # SIGTERM/SIGINT: save the step reached, then stop
  guard.install()
  pending_clips = ()
  try:
    if guard.reached(start_step):  # a notice during compilation
      preemption.save_and_stop(guard, manager, start_step, state, train_iter, config)
    if first_step <= total_steps:
      batch = sharding.global_batch(next(train_iter), mesh)
      compiled_step, stats, compile_seconds = compile_train_step(run.train_fn, state, batch)
      peak, peak_note = throughput.resolve_peak(
          jax.devices()[0].device_kind, _compute_dtype(config), config.peak_flops_per_chip)
      logging.info(compiled_stats.format_step_stats(stats, compile_seconds))
      logging.info("%s (%d device%s)", peak_note, jax.device_count(),
                   "s" if jax.device_count() > 1 else "")
      writer.write_scalars(start_step, {"perf/compile_seconds": compile_seconds,
                                        "perf/gflop_per_step_per_device": stats["flops"] / 1e9,
                                        "perf/peak_gib_per_device": stats["peak_bytes"] / 2**30})
      meter = throughput.ThroughputMeter(
          flops_per_step_per_device=stats["flops"], num_devices=jax.device_count(),
          batch_size=config.batch_size, total_steps=total_steps, peak_flops_per_chip=peak)

    for step in range(first_step, total_steps + 1):
      if step > first_step:
        batch = sharding.global_batch(next(train_iter), mesh)
      clips = train_iter.last_clips
      profiler.before_step(step, (state, pending))
      state, metrics = compiled_step(state, batch)
      profiler.after_step(step, (state, metrics))
      if step == first_step:
        jax.block_until_ready((state, metrics))
        meter.first_step_done(step)
      if pending is not None and config.halt_on_nonfinite:
        check_finite(pending, step - 1, pending_clips)
      pending, pending_clips = metrics, clips
      _raise_if_save_failed(manager, step)
      if step % config.log_every_steps == 0 or step == total_steps:
        scalars = {k: float(v) for k, v in jax.device_get(metrics).items()}
        rates = meter.report(step)
        if rates is not None:
          scalars.update(rates.scalars())
        logging.info(throughput.format_rates(step, total_steps, rates, scalars["loss/total"]))
        if config.data.skip_corrupt:
          scalars["data/skipped_clips"] = train_iter.num_skipped
        writer.write_scalars(step, scalars)
      if guard.reached(step):
        if config.halt_on_nonfinite:
          check_finite(metrics, step, clips)  # never write a checkpoint from a diverged state
        preemption.save_and_stop(guard, manager, step, state, train_iter, config)
      # Save before evaluating: a failing evaluation must not cost the step's checkpoint.
      if step % config.checkpoint_every_steps == 0 or step == total_steps:
        if config.halt_on_nonfinite:
          check_finite(metrics, step, clips)  # never write a checkpoint from a diverged state
        with _untimed(meter, state):
          try:
            checkpoints.save(manager, step, state, train_iter, config)
          except Exception as error:  # pylint: disable=broad-except
            raise _save_error(manager, step, error) from error
        logging.info("saving checkpoint %d to %s (async)", step, manager.directory)
      if step % config.eval_every_steps == 0 or step == total_steps:
        with _untimed(meter, state):
          eval_metrics = evaluation.evaluate(config, state, mesh, run.eval_fn, writer, step)
        if step < total_steps:  # the last one is the run's summary line (star_jax.main)
          logging.info("step %d/%d: %s", step, total_steps,
                       evaluation.summary_line(eval_metrics))
  except BaseException:
    _finish_saves(manager, quiet=True)  # a save in flight completes before the error is told
    raise
  finally:
    guard.restore()
    profiler.close()
  if not eval_metrics:  # resumed a finished run: report its held-out metrics anyway
    eval_metrics = evaluation.evaluate(config, state, mesh, run.eval_fn, writer,
                                       int(state.step))
  _finish_saves(manager)
  run.state = state
  return TrainResult(step=int(state.step), eval_metrics=eval_metrics)


def _last_complete_step(manager) -> Optional[int]:
  """The newest checkpoint finished on disk (a failed save's partial folder is not one)."""
  manager.reload()
  return manager.latest_step()


def _save_error(manager, step: int, error: BaseException) -> CheckpointSaveError:
  """The error of a failed save (this step's, or the asynchronous one before it, which
  orbax reports when the next save starts), noticed at ``step``."""
  return CheckpointSaveError(
      f"writing a checkpoint to {manager.directory} failed ({type(error).__name__}: "
      f"{error}); stopped at step {step}. The last complete checkpoint (step "
      f"{_last_complete_step(manager)}) is intact")


def _raise_if_save_failed(manager, step: int) -> None:
  """Raises :class:`CheckpointSaveError` as soon as an asynchronous save has failed (checked
  every step, so the run stops within a step of the failure)."""
  try:
    manager.check_for_errors()
  except Exception as error:  # pylint: disable=broad-except
    raise _save_error(manager, step, error) from error


def _finish_saves(manager, quiet: bool = False) -> None:
  """Waits for the save in flight. Raises :class:`CheckpointSaveError` if it failed, unless
  ``quiet`` (another error is being reported: this one goes to the log file only)."""
  try:
    manager.wait_until_finished()
  except Exception as error:  # pylint: disable=broad-except
    if not quiet:
      raise _save_error(manager, manager.latest_step() or 0, error) from error
    logging.warning("the checkpoint save in flight failed too", exc_info=True)  # train.log


def export_final_weights(run: TrainSetup) -> pathlib.Path:
  """Writes ``run.state``'s parameters (and BatchNorm statistics) in the converter's format
  to ``<workdir>/model`` (what infer, evaluate and ``init_from`` load); returns the folder."""
  variables = {"params": run.state.params}
  if run.state.batch_stats:
    variables["batch_stats"] = run.state.batch_stats
  save_checkpoint(run.workdir / EXPORT_DIR, ModelConfig.from_mapping(run.config.model), variables)
  return run.workdir / EXPORT_DIR


def train_and_evaluate(config: TrainConfig, workdir: str) -> TrainResult:
  """Runs ``python -m star_jax.main``'s training: :func:`setup`, :func:`train_loop`,
  :func:`export_final_weights`, then flushes the metrics.

  Args:
    config: the training config (``star_jax.train.config``).
    workdir: checkpoints, TensorBoard logs and ``model/`` (the final weights).
  Returns:
    a :class:`TrainResult`.
  Raises:
    UserInputError: as :func:`setup`.
    NonFiniteLossError, CheckpointSaveError: as :func:`train_loop`.
  """
  try:
    run = setup(config, workdir)
    try:
      result = train_loop(run)
      export_final_weights(run)
      run.writer.flush()
    finally:
      run.train_iter.close()  # stops data workers (and frees their shared memory) on any exit
  finally:
    preflight.release_workdir(workdir)
  return result
