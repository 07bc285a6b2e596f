"""Fixtures of the benchmark tests: a tiny mixed table with strong structure."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from diffputer.bench.datasets import Dataset

# DiffPuter settings that make a fit take a fraction of a second.
TINY_DIFFPUTER = (
    "diffputer:n_em_iter=1:max_epochs=2:hidden_dim=16:batch_size=64:num_steps=3"
    ":resample_repeats=1:num_samples=2:device=cpu"
)


def make_structured(n: int = 240, seed: int = 0) -> Dataset:
    """Numeric columns driven by two latent factors, categoricals that follow them."""
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x1": u + 0.1 * rng.normal(size=n),
            "x2": 2 * u - v + 0.1 * rng.normal(size=n),
            "colour": pd.Categorical(np.where(u > 0, "red", "blue")),
            "x3": v + 0.1 * rng.normal(size=n),
            "x4": u + v + 0.1 * rng.normal(size=n),
            "size": pd.Categorical(np.digitize(v, [-0.5, 0.5])),  # integer categories 0, 1, 2
        }
    )
    return Dataset("tiny", frame, ["x1", "x2", "x3", "x4"], ["colour", "size"])


@pytest.fixture
def structured() -> Dataset:
    return make_structured()


def load_benchmark_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module (the scripts are not a package).
    Its folder goes on ``sys.path``, as when the script runs, for the helpers it
    imports from beside it (``_cell``, ``speed``, ...)."""
    folder = Path(__file__).resolve().parents[2] / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    path = folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
