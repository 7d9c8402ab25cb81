"""benchmarks/results/plan.md's matrix of the paper's step (issue 20 point 4) against the plan
JSONs it cites: every cell that gives a figure reads it from its JSON (the peak of a step that
fits, the HLO temporaries XLA:TPU named when it refused one), the JSON is the cell's chip,
dtype, remat mode and batch, and the coverage sentence counts the cells that have one."""

import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAN_MD = ROOT / "benchmarks" / "results" / "plan.md"
PLANS = ROOT / "benchmarks" / "plan"
GIB = 2**30
DEVICE_KIND = {"v5e": "TPU v5 lite", "v5p": "TPU v5", "v6e": "TPU v6 lite"}
# column -> (JSON name suffix, global batch, batch per chip): 4 chips, mesh (4, 1); the
# paper's global 10 on mesh (2, 2), 5 samples per data-parallel pair.
COLUMNS = (("b1", 4, 1), ("b2", 8, 2), ("b4", 16, 4), ("g10", 10, 5))
DTYPES = {"float32": "f32", "bfloat16": "bf16"}
# Cells compiled under another JSON name (plan.md says which and why).
RENAMED = {"v5p_train_bf16_blocks_b1": "v5p_train_bf16_blocks_offload_b1"}
ROW = re.compile(r"\| (v5e|v5p|v6e) \| (float32|bfloat16) \| (none|blocks|full) \|(.*)\|$")


def _matrix():
  """{(chip, dtype, remat): [cell text per column]} of the coverage matrix."""
  text = PLAN_MD.read_text()
  section = text[text.index("### Coverage of the paper's step matrix"):]
  section = section[:section.index("\n### ", 1)]
  rows = {}
  for line in section.splitlines():
    match = ROW.match(line)
    if match:
      chip, dtype, remat, cells = match.groups()
      rows[chip, dtype, remat] = [cell.strip() for cell in cells.split("|")]
  return rows, section


def _step(record):
  """The train step's fields, and its peak in bytes (the first session's JSON, written by a
  script before the plan command, holds the step itself with its peak under ``memory``)."""
  step = record.get("train", record)
  peak = step.get("peak_bytes_per_chip") or step.get("memory", {}).get("peak_bytes")
  kind = record["topology"]["device_kind"] if "topology" in record else step["device_kind"]
  return step, peak, kind


def test_every_cell_reads_its_json_and_the_coverage_counts_them():
  rows, section = _matrix()
  assert len(rows) == 18 and all(len(cells) == len(COLUMNS) for cells in rows.values())
  compiled = 0
  for (chip, dtype, remat), cells in rows.items():
    for (suffix, global_batch, per_chip), cell in zip(COLUMNS, cells):
      name = f"{chip}_train_{DTYPES[dtype]}_{remat}_{suffix}"
      path = PLANS / f"{RENAMED.get(name, name)}.json"
      if cell == "-":  # not compiled yet
        assert not path.exists(), f"{name}: plan.md says {cell!r} but {path.name} exists"
        continue
      compiled += 1
      step, peak, kind = _step(json.loads(path.read_text()))
      assert (kind, step["compute_dtype"], step["remat"], step["global_batch"],
              step["batch_per_chip"], step["frame_height"], step["frame_width"]) == (
                  DEVICE_KIND[chip], dtype, remat, global_batch, per_chip, 64, 112), name
      if step.get("fits", True):
        assert cell == f"{peak / GIB:.2f} fits", name
      else:
        temporaries = re.search(r"HLO temporaries \(([\d.]+)G\)", step["compile_error"])
        assert cell == f"**no** (temporaries {temporaries.group(1)})", name
  if compiled == 72:
    assert "All 72 cells are compiled; none is blocked." in section, "plan.md's coverage sentence"
    return
  count = re.search(r"(\d+) of the 72 cells are compiled; none is blocked; (\d+) are left",
                    section)
  assert count, "plan.md's coverage sentence"
  assert (int(count.group(1)), int(count.group(2))) == (compiled, 72 - compiled)

