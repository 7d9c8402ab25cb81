"""The package layering of star_jax: every import of one star_jax package by another goes
down (to a lower layer), so there is no upward arrow and no cycle.

Layers, lowest first: ``star_jax.errors`` (``UserInputError``, the one type of bad input),
``star_jax.pixels`` (the pixel conventions: NumPy and JAX only) and ``star_jax.files``
(outputs that appear only complete), then
``model`` and ``flow`` (independent of each other), ``data`` (its
augmentation and flow cache use ``flow``), ``convert`` (release ``.pth`` <-> Flax) and
``video`` (media I/O: video files and frame folders, read and written; it reads frame files
with ``data`` and knows nothing of the model), ``star_jax.weights`` (our checkpoint
directory and the loader of either kind of weights), ``infer`` (the engine, and the runner
that streams ``video``'s frames through it), ``evaluate``, then ``train``, ``export``,
``showcase`` and ``accelerators`` (the platform a command runs on; apart: none imports
another), then ``plan`` (ahead-of-time compiles of train's and infer's steps), then
``star_jax.cli`` (every command, one module each), then the entry points
(``star_jax/main.py`` and every package's ``__main__.py``), which only call a command of
``cli``; nothing imports them, and no library package imports ``cli``.

ml_collections (the training config's ``ConfigDict``) is imported only by
``train/config.py`` (the config) and the command-line readers of config files
(``cli/common.py``, ``cli/train.py``, ``cli/plan.py``): a model's configuration anywhere else
is a ``star_jax.model.ModelConfig``.
"""

import ast
import pathlib

import star_jax

LAYERS = {"errors": 0, "pixels": 1, "files": 1, "model": 2, "flow": 2, "data": 3, "convert": 4,
          "video": 4, "weights": 5, "infer": 6, "evaluate": 7, "train": 8, "export": 8,
          "showcase": 8, "accelerators": 8, "plan": 9, "cli": 10, "entry point": 11}
ENTRY_POINTS = ("main",)
# The training config and the one command-line reader of config files (the commands that
# take --config define it through cli/common.py).
ML_COLLECTIONS_FILES = ("train/config.py", "cli/common.py")
ROOT = pathlib.Path(star_jax.__file__).parent


def _node(path: pathlib.Path) -> str:
  """The layering node of a module file: its package (or top-level module), or 'entry
  point'."""
  parts = path.relative_to(ROOT).with_suffix("").parts
  if parts[-1] == "__main__" or parts == ("main",):
    return "entry point"
  return parts[0] if parts != ("__init__",) else "star_jax"


def _imported_nodes(path: pathlib.Path):
  """(star_jax node, line) of every absolute star_jax import in ``path``."""
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    names = []
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names]
                               if node.module == "star_jax" else [])
    for name in names:
      parts = name.split(".")
      if parts[0] == "star_jax" and len(parts) > 1:
        yield ("entry point" if parts[1] in ENTRY_POINTS else parts[1]), node.lineno


def third_party_imports(package: str):
  """{file (relative to star_jax/): [line, ...]} of every import of ``package`` (absolute,
  any depth: ``import package``, ``import package.x``, ``from package(.x) import ...``)."""
  found = {}
  for path in sorted(ROOT.rglob("*.py")):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
      if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
      elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [node.module]
      else:
        continue
      if any(name.split(".")[0] == package for name in names):
        found.setdefault(str(path.relative_to(ROOT)), []).append(node.lineno)
  return found


def import_edges():
  """{(importer node, imported node): ["file:line", ...]} over star_jax's modules."""
  edges = {}
  for path in sorted(ROOT.rglob("*.py")):
    source = _node(path)
    for target, line in _imported_nodes(path):
      if target != source:
        edges.setdefault((source, target), []).append(f"{path.relative_to(ROOT)}:{line}")
  return edges


def test_every_package_is_in_a_layer():
  packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
  modules = {p.stem for p in ROOT.glob("*.py")} - {"__init__", *ENTRY_POINTS}
  assert packages | modules | {"entry point"} == set(LAYERS)


def test_imports_only_go_down():
  upward = {edge: where for edge, where in import_edges().items()
            if edge[0] != "star_jax" and LAYERS[edge[1]] >= LAYERS[edge[0]]}
  assert not upward, "\n".join(f"{a} -> {b}: {', '.join(w)}" for (a, b), w in upward.items())


def test_the_check_sees_imports():
  """The edges the layering rests on are found (a parser that found none would pass)."""
  edges = import_edges()
  for edge in (("infer", "model"), ("evaluate", "infer"), ("data", "flow"), ("infer", "weights"),
               ("weights", "convert"), ("video", "data"), ("video", "files"), ("infer", "video"),
               ("entry point", "cli"), ("cli", "infer"), ("cli", "plan"), ("plan", "train"),
               ("plan", "infer"), ("showcase", "evaluate"), ("video", "errors")):
    assert edge in edges, edge


def _entry_point_files():
  return sorted([ROOT / "main.py", *ROOT.glob("*/__main__.py")])


def test_entry_points_only_call_a_command():
  """``main.py`` and every ``__main__.py`` import one module of ``star_jax.cli`` and no other
  star_jax module: the command lives in ``cli``, the entry point only calls it."""
  files = _entry_point_files()
  assert len(files) >= 8, files
  for path in files:
    imported = [name for node in ast.walk(ast.parse(path.read_text(), str(path)))
                if isinstance(node, ast.ImportFrom) and node.module
                and node.module.startswith("star_jax")
                for name in [f"{node.module}.{alias.name}" for alias in node.names]]
    assert len(imported) == 1 and imported[0].startswith("star_jax.cli."), (path, imported)


def test_only_the_training_config_readers_import_ml_collections():
  found = third_party_imports("ml_collections")
  elsewhere = {path: lines for path, lines in found.items() if path not in ML_COLLECTIONS_FILES}
  assert not elsewhere, "\n".join(f"{path}:{lines}" for path, lines in elsewhere.items())
  # The check sees the imports it rests on (a scan that found none would pass).
  assert set(found) == set(ML_COLLECTIONS_FILES), sorted(found)
