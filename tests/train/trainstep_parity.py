"""star_jax's train step against the release's own training script: the measures and bars
of ``tests/fixtures/trainstep/README.md`` for any fixture folder of that format.

The port is the project's training path as the trainer runs it: the release ``.pth`` read by
``star_jax.convert.torch_io`` and converted by ``release_to_variables``, the model
``build_model`` makes of its detected config, ``star_jax.train.step.train_step`` with the
objective and loss of ``meta.json`` and the optimiser of ``make_optimizer`` (the project's
default config, checked against ``meta.json``'s), jit-compiled. Gradients are read from the
step itself: the optimiser is chained after a transformation that stores the gradients it
receives in its state and passes them on unchanged.

``python -m tests.train.trainstep_parity [FOLDER ...]`` prints, per fixture, every
tensor's worst error under every measure, and the worst per measure against its bar.
"""

import functools
import json
import pathlib
import sys
from typing import Dict, List, NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from star_jax.convert import release_to_variables, torch_io, variables_to_state_dict
from star_jax.convert.mapping import state_dict_to_variables
from star_jax.convert.vgg import load_vgg19_variables
from star_jax.model import build_model
from star_jax.model.vgg import VGG19Features
from star_jax.train import step as step_lib
from star_jax.train.config import base_config
from star_jax.train.state import TrainState, learning_rate_schedule, make_optimizer

PREFIX = "module."
# The README's bars (a faithful float32 port reaches ~1e-7 on loss, ~2e-5 on gradients).
BARS = {"loss": 1e-5, "grad": 1e-4, "grad2": 1e-4, "optimizer": 1e-5, "param": 1e-4,
        "bn": 1e-4, "param_free": 1e-4, "bn_free": 1e-4,
        # Ours, not the README's: the step's ``grad_norm`` metric against the L2 norm of the
        # release's gradients of the same step (float64), at the gradient bar.
        "grad_norm": 1e-4}
# Measures of one number per step (the others are per tensor).
SCALAR_MEASURES = ("loss", "grad_norm")
# Elements the param measures count: both gradients at least this fraction of the tensor's
# largest (README: elsewhere Adamax's step is decided by rounding).
CONDITIONED = 0.01
# A reference gradient tensor this small against the model's largest is zero in exact
# arithmetic (float64 rounding only: a conv bias feeding a training-mode BatchNorm).
EXACT_ZERO = 1e-9


class Fixture(NamedTuple):
  name: str
  meta: dict
  state_dict: Dict[str, np.ndarray]  # initial weights, release keys without ``module.``
  batch: Dict[str, np.ndarray]       # NHWC float32
  reference: Dict[str, np.ndarray]


def fixture_folders(root: pathlib.Path) -> List[pathlib.Path]:
  return sorted(path for path in root.iterdir() if (path / "meta.json").is_file())


def load_fixture(folder: pathlib.Path) -> Fixture:
  meta = json.loads((folder / "meta.json").read_text())
  state_dict = torch_io.load_release_state_dict(folder / meta["files"]["model"])
  with np.load(folder / "batch.npz") as data:
    batch = {key: np.ascontiguousarray(np.moveaxis(data[key], 1, -1)) for key in data.files}
  with np.load(folder / "reference.npz") as data:
    reference = {key: data[key] for key in data.files}
  return Fixture(folder.name, meta, state_dict, batch, reference)


def _strip(tree_prefix: str, reference: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """``{prefix}/module.<key>`` entries as ``{<key>: array}``."""
  start = f"{tree_prefix}/{PREFIX}"
  return {key[len(start):]: value for key, value in reference.items() if key.startswith(start)}


def recording(tx: optax.GradientTransformation) -> optax.GradientTransformation:
  """``tx`` behind a transformation whose state is the last gradients it was given."""
  record = optax.GradientTransformation(
      lambda params: jax.tree_util.tree_map(jnp.zeros_like, params),
      lambda updates, state, params=None: (updates, updates))
  return optax.chain(record, tx)


class Port(NamedTuple):
  model: object
  tx: optax.GradientTransformation  # the project's optimiser
  step: object                       # jitted train_step with a recording optimiser
  variables: dict                    # initial Flax variables
  shapes: dict                       # abstract variables (for torch -> Flax conversion)


def project_optimizer(meta: dict) -> optax.GradientTransformation:
  """``make_optimizer`` of the project's default config, whose settings must be the
  release's (``meta.json`` → ``optimizer``); lr from the release's schedule at step 0."""
  config = base_config()
  o = config.optimizer
  want = meta["optimizer"]
  got = {"name": o.name, "lr": o.learning_rate, "betas": [o.b1, o.b2], "eps": o.eps}
  expected = {"name": want["name"].lower(), "lr": want["lr"], "betas": want["betas"],
              "eps": want["eps"]}
  if got != expected or want.get("weight_decay", 0.0) != 0.0:
    raise AssertionError(f"the project's optimiser {got} is not the release's {want}")
  schedule = learning_rate_schedule(o.learning_rate, steps_per_epoch=1000,
                                    decay_every_epochs=config.lr_decay_every_epochs,
                                    decay_factor=config.lr_decay_factor)
  return make_optimizer(config, schedule)


def _features(fixture: Fixture, folder: pathlib.Path):
  """The VGG19 feature extractor when the fixture's loss includes the perceptual term."""
  if not any(key.endswith("/perceptual") for key in fixture.reference):
    return None
  vgg_file = fixture.meta["files"].get("vgg19")
  if vgg_file is None:
    raise AssertionError(f"{fixture.name}: the loss has a perceptual term but meta.json "
                         "names no files.vgg19 weights")
  vgg_variables = load_vgg19_variables(folder / vgg_file)
  return lambda x: VGG19Features().apply(vgg_variables, x)


def make_port(fixture: Fixture, folder: pathlib.Path) -> Port:
  constructor = fixture.meta["constructor"]
  model_cfg, variables = release_to_variables(fixture.state_dict)
  detected = {"base_filter": model_cfg.base_filter, "feat": model_cfg.feat,
              "n_resblock": model_cfg.n_resblock, "scale_factor": model_cfg.scale}
  expected = {key: constructor[key] for key in detected}
  # star_jax builds the release's three back-projection stages (num_stages=3) only.
  if detected != expected or constructor.get("num_stages", 3) != 3:
    raise AssertionError(f"detected {dict(model_cfg)} does not match the fixture's "
                         f"constructor {constructor}")
  if fixture.meta["variant"] not in (model_cfg.variant, model_cfg.variant.split("_")[0]):
    raise AssertionError(f"detected {model_cfg.variant}, fixture says {fixture.meta['variant']}")
  model = build_model(model_cfg)
  tx = project_optimizer(fixture.meta)
  loss_type = fixture.meta["loss"]
  step = jax.jit(functools.partial(
      step_lib.train_step, model=model, tx=recording(tx), seed=0,
      objective=fixture.meta["train_obj"], loss_type=loss_type,
      schedule=lambda count: fixture.meta["optimizer"]["lr"],
      features=_features(fixture, folder)))
  shapes = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                                  variables)
  return Port(model, tx, step, variables, shapes)


def _torch_layout(tree, collection="params") -> Dict[str, np.ndarray]:
  return variables_to_state_dict({collection: tree})


def _flax(port: Port, collection: str, state_dict: Dict[str, np.ndarray]):
  shapes = {collection: port.shapes[collection]}
  return state_dict_to_variables(state_dict, shapes)[collection]


def _state(port: Port, params, batch_stats, opt_state) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=batch_stats,
                    opt_state=opt_state)


def _relative(got, want, scale) -> float:
  if got.shape != want.shape:
    raise AssertionError(f"shape {got.shape} vs reference {want.shape}")
  return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))) / scale) \
      if want.size else 0.0


def _max(x) -> float:
  return float(np.max(np.abs(x))) if np.size(x) else 0.0


def optimizer_errors(port: Port, tx: optax.GradientTransformation, grad1, grad2,
                     update2: Dict[str, np.ndarray]) -> Dict[str, float]:
  """The optimizer measure: ``tx`` fed the release's ``grad1`` then ``grad2`` (Flax
  trees) from the initial weights; the sum of its two updates against ``update2``, relative
  to each tensor's largest (the model's largest update where a tensor never moves)."""
  params0 = port.variables["params"]
  opt = tx.init(params0)
  u1, opt = tx.update(grad1, opt, params0)
  u2, _ = tx.update(grad2, opt, optax.apply_updates(params0, u1))
  total = _torch_layout(jax.tree_util.tree_map(lambda a, b: np.asarray(a, np.float64)
                                               + np.asarray(b, np.float64), u1, u2))
  largest = max(_max(u) for u in update2.values())
  return {key: _relative(total[key], want, _max(want) or largest)
          for key, want in update2.items()}


def run_fixture(folder: pathlib.Path) -> Dict[str, Dict[str, float]]:
  """Every measure of the README for one fixture: {measure: {tensor or term: error}}."""
  fixture = load_fixture(folder)
  port = make_port(fixture, folder)
  ref = fixture.reference
  batch = {key: jnp.asarray(value) for key, value in fixture.batch.items()}
  initial = _torch_layout(port.variables["params"])
  grad1, grad2 = _strip("grad1", ref), _strip("grad2", ref)
  update1, update2 = _strip("update1", ref), _strip("update2", ref)
  buffers1, buffers2 = _strip("buffers1", ref), _strip("buffers2", ref)
  if set(grad1) != set(initial):
    raise AssertionError(f"reference gradients name other tensors than the model's: "
                         f"{sorted(set(grad1) ^ set(initial))[:5]}")
  no_grad = {key[len(PREFIX):] for key in fixture.meta.get("params_without_grad", ())}
  largest_grad = {n: max(_max(g) for g in grads.values())
                  for n, grads in (("grad", grad1), ("grad2", grad2))}
  results: Dict[str, Dict[str, float]] = {measure: {} for measure in BARS}

  def grad_scale(measure, key, want):
    scale = _max(want)
    if key in no_grad or scale <= EXACT_ZERO * largest_grad[measure]:
      return largest_grad[measure]
    return scale

  def losses(step_index, metrics):
    prefix = f"loss/step{step_index}/"
    for key in ref:
      if key.startswith(prefix):
        term = key[len(prefix):]
        want = float(ref[key])
        results["loss"][f"step{step_index} {term}"] = abs(
            float(metrics[f"loss/{term}"]) - want) / abs(want)

  def grad_norm(step_index, metrics, grads):
    want = float(np.sqrt(sum(np.sum(np.square(g.astype(np.float64))) for g in grads.values())))
    results["grad_norm"][f"step{step_index}"] = abs(
        float(metrics["grad_norm"]) - want) / want

  # Step 1 from the initial weights; then the port's own step 2 (the *_free measures).
  tx = port.tx
  state0 = _state(port, port.variables["params"], port.variables.get("batch_stats", {}),
                  recording(tx).init(port.variables["params"]))
  state1, metrics1 = port.step(state0, batch)
  losses(1, metrics1)
  grad_norm(1, metrics1, grad1)
  ours_grad1 = _torch_layout(state1.opt_state[0])
  for key, want in grad1.items():
    results["grad"][key] = _relative(ours_grad1[key], want, grad_scale("grad", key, want))
  state2, _ = port.step(state1, batch)
  mask = {key: (np.abs(grad1[key]) >= CONDITIONED * _max(grad1[key]))
          & (np.abs(grad2[key]) >= CONDITIONED * _max(grad2[key])) for key in grad1}
  final_ref = {key: initial[key] + update2[key].astype(np.float64) for key in initial}

  def params_measure(measure, params):
    got = _torch_layout(params)
    for key, want in final_ref.items():
      scale = _max(want)
      results[measure][key] = (_relative(got[key][mask[key]], want[mask[key]], scale)
                               if mask[key].any() and scale > 0 else 0.0)

  def bn_measure(measure, batch_stats):
    got = _torch_layout(batch_stats, "batch_stats")
    for key, want in buffers2.items():
      if key.endswith("num_batches_tracked"):
        results[measure][key] = float(np.any(got[key] != want))
      else:
        results[measure][key] = _relative(got[key], want, _max(want))

  params_measure("param_free", state2.params)
  if buffers2:
    bn_measure("bn_free", state2.batch_stats)

  g1 = _flax(port, "params", grad1)
  g2 = _flax(port, "params", grad2)
  params0 = port.variables["params"]
  results["optimizer"] = optimizer_errors(port, tx, g1, g2, update2)

  # Step 2 from the release's state after step 1 (grad2, param, bn measures).
  params1 = _flax(port, "params", {key: (initial[key] + update1[key]).astype(np.float32)
                                   for key in initial})
  stats1 = (_flax(port, "batch_stats", buffers1) if buffers1
            else port.variables.get("batch_stats", {}))
  opt1 = tx.init(params1)
  _, opt1 = tx.update(g1, opt1, params0)
  record = recording(tx).init(params1)[0]
  state_r1 = _state(port, params1, stats1, (record, opt1))
  state_r2, metrics_r2 = port.step(state_r1, batch)
  losses(2, metrics_r2)
  grad_norm(2, metrics_r2, grad2)
  ours_grad2 = _torch_layout(state_r2.opt_state[0])
  for key, want in grad2.items():
    results["grad2"][key] = _relative(ours_grad2[key], want, grad_scale("grad2", key, want))
  params_measure("param", state_r2.params)
  if buffers2:
    bn_measure("bn", state_r2.batch_stats)
  return {measure: values for measure, values in results.items() if values}


def bars(meta: dict) -> Dict[str, float]:
  """The README's bar per measure, raised to 3x the release's own float32 runs where those
  cannot meet it (``torch_float32_vs_reference``)."""
  release = meta.get("torch_float32_vs_reference", {})
  out = {}
  for measure, bar in BARS.items():
    worst = release.get(f"{measure}_rel")
    out[measure] = max(bar, 3 * worst) if worst is not None else bar
  return out


def worst(results: Dict[str, Dict[str, float]]) -> Dict[str, tuple]:
  return {measure: max(values.items(), key=lambda item: item[1])
          for measure, values in results.items()}


def format_table(name: str, results: Dict[str, Dict[str, float]], meta: dict) -> str:
  """Per tensor, its worst error under every measure; then the worst per measure vs bar."""
  measures = [m for m in BARS if m in results and m not in SCALAR_MEASURES]
  keys = sorted({key for m in measures for key in results[m]})
  width = max(len(key) for key in keys)
  lines = [f"== {name}: every tensor's error (relative, README measures)",
           f"{'tensor':<{width}}  " + "  ".join(f"{m:>10}" for m in measures)]
  for key in keys:
    lines.append(f"{key:<{width}}  " + "  ".join(
        f"{results[m][key]:>10.2e}" if key in results[m] else f"{'-':>10}" for m in measures))
  for measure in SCALAR_MEASURES:
    lines.append(f"{measure}: " + ", ".join(f"{key} {err:.2e}"
                                            for key, err in results[measure].items()))
  limits = bars(meta)
  lines.append("worst per measure (bar):")
  for measure, (key, err) in worst(results).items():
    lines.append(f"  {measure:<10} {err:.2e} ({limits[measure]:.0e})  {key}"
                 + ("  FAIL" if err > limits[measure] else ""))
  return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  root = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "trainstep"
  folders = [pathlib.Path(a) for a in argv] or fixture_folders(root)
  failed = False
  for folder in folders:
    results = run_fixture(folder)
    meta = json.loads((folder / "meta.json").read_text())
    print(format_table(folder.name, results, meta))
    limits = bars(meta)
    failed |= any(err > limits[m] for m, (_, err) in worst(results).items())
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
