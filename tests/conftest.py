"""Shared fixtures: small mixed tables with a known mask, and tiny settings."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

# Settings that make a full EM run take a fraction of a second.
TINY = dict(
    n_em_iter=2,
    max_epochs=3,
    hidden_dim=16,
    batch_size=64,
    num_steps=4,
    resample_repeats=2,
    num_samples=2,
    final_num_samples=3,  # odd: the fast preset's median is then one of the samples
    random_state=0,
    # DIFFPUTER_TEST_DEVICE=cuda runs the estimator tests on a GPU
    # (benchmarks/gpu_session.sh); tests that check CPU-only behaviour skip there
    device=os.environ.get("DIFFPUTER_TEST_DEVICE", "cpu"),
)


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(1)  # tiny networks are slower with threads, and CI has 2 cores


def make_mixed_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A table with every supported column type and real dependence between columns."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = 2 * a + rng.normal(scale=0.3, size=n)
    return pd.DataFrame(
        {
            "a": a,
            "b32": b.astype(np.float32),
            "count": pd.array(rng.integers(0, 10, n), dtype="Int64"),
            "cat": pd.Categorical(np.where(a > 0, "hi", "lo"), categories=["lo", "hi", "never"]),
            "obj": np.where(b > 0, "x", "y").astype(object),
            "flag": pd.array(a > 0.5, dtype="boolean"),
            "text": pd.array(rng.choice(["u", "v", "w"], n), dtype="string"),
        },
        index=pd.Index(np.arange(100, 100 + n) * 3, name="row_id"),
    )


def mask_frame(
    frame: pd.DataFrame, rate: float = 0.3, seed: int = 1
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = rng.random(frame.shape) < rate
    mask[0] = False  # one complete row
    return frame.mask(mask), mask


@pytest.fixture
def mixed():
    full = make_mixed_frame()
    masked, mask = mask_frame(full)
    return full, masked, mask
