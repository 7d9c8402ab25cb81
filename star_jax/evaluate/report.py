"""Evaluation results as the paper prints them (one table per task, like Tables 7-9: a
method row, PSNR / SSIM (and IE for T-SR) under the dataset's name), plus a per-frame CSV
and a JSON summary, each written atomically (also the files of ``--protocol stvsr``, whose
table is ``star_jax.evaluate.stvsr.format_table``)."""

import csv
import dataclasses
import io
import json
import pathlib
from typing import Any, Dict, Sequence

from star_jax import files
from star_jax.evaluate.evaluator import TASK_TITLES, FrameScore

_COLUMNS = {"st": ("psnr", "ssim"), "s": ("psnr", "ssim"), "t": ("psnr", "ssim", "ie")}
_HEADERS = {"psnr": "PSNR", "ssim": "SSIM", "ie": "IE"}
_FORMATS = {"psnr": "{:.3f}", "ssim": "{:.4f}", "ie": "{:.3f}"}


def format_tables(summary: Dict[str, Dict[str, float]], dataset_title: str,
                  method: str) -> str:
  """Plain-text tables, one per task present in ``summary``."""
  blocks = []
  for task, values in summary.items():
    columns = _COLUMNS[task]
    cells = [_FORMATS[column].format(values[column]) for column in columns]
    width = max(len(method), len("Method"))
    group = "  ".join(f"{_HEADERS[column]:>8}" for column in columns)
    header_dataset = f"{dataset_title} ({values['frames']} frames)"
    blocks.append("\n".join([
        TASK_TITLES[task],
        f"{'':<{width}} | {header_dataset}",
        f"{'Method':<{width}} | {group}",
        f"{'-' * width}-+-{'-' * max(len(group), len(header_dataset))}",
        f"{method:<{width}} | " + "  ".join(f"{cell:>8}" for cell in cells),
    ]))
  return "\n\n".join(blocks)


def write_rows(path: pathlib.Path, rows: Sequence[Any], row_type: type) -> None:
  """A CSV of ``row_type`` dataclass instances: a header of its field names, one row each."""
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=[field.name for field in dataclasses.fields(row_type)])
  writer.writeheader()
  for row in rows:
    writer.writerow(dataclasses.asdict(row))
  files.write_text(path, buffer.getvalue())


def write_csv(path: pathlib.Path, scores: Sequence[FrameScore]) -> None:
  """One row per output frame: sample, task, output, psnr, ssim, ie."""
  write_rows(path, scores, FrameScore)


def write_text(path: pathlib.Path, text: str) -> None:
  files.write_text(path, text)


def write_json(path: pathlib.Path, document: Dict[str, Any]) -> None:
  files.write_text(path, json.dumps(document, indent=2) + "\n")
