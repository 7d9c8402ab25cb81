"""Evaluation on the paper's test sets: ``python -m star_jax.evaluate --help``."""

from star_jax.evaluate.datasets import DATASETS, Triplet, list_triplets
from star_jax.evaluate.evaluator import TASKS, FrameScore, evaluate_triplets, summarise
from star_jax.pixels import psnr
from star_jax.evaluate.metrics import interpolation_error, psnr_y, ssim, ssim_y

__all__ = ["DATASETS", "TASKS", "FrameScore", "Triplet", "evaluate_triplets",
           "interpolation_error", "list_triplets", "psnr", "psnr_y", "ssim", "ssim_y",
           "summarise"]
