"""benchmarks/paper_cost.py: the `paper` preset's whole-run cost from unit costs."""

from __future__ import annotations

import math

import pytest

from diffputer.config import get_preset

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def paper_cost():
    return load_benchmark_script("paper_cost")


def test_projection_counts_the_papers_work(paper_cost):
    # ALGORITHM.md: 50 Heun levels x 20 RePaint repeats = 1,961 calls per sample, 10
    # samples per E-step, 10 EM iterations, up to 10,001 epochs with patience 500
    p = paper_cost.project(700, train_s=1e-3, eval_s=1e-4, preset=get_preset("paper"))
    assert p["calls"] == 1961
    assert p["evals_per_row"] == 19_610
    assert p["n_out"] == 300
    assert p["e_step"] == pytest.approx(700 * 19_610 * 1e-4)
    assert p["m_cap"] == pytest.approx(700 * 10_001 * 1e-3)
    assert p["m_min"] == pytest.approx(700 * 501 * 1e-3)
    assert p["out"] == pytest.approx(300 * 19_610 * 1e-4)
    assert p["low"] == pytest.approx(10 * (p["e_step"] + p["m_min"]) + p["out"])
    assert p["high"] == pytest.approx(10 * (p["e_step"] + p["m_cap"]) + p["out"])


def test_unit_costs_are_measured(paper_cost):
    train_s, eval_s = paper_cost.unit_costs(d=4, width=16, batch=8, eval_batch=8, lr=1e-3, reps=1)
    assert 0 < train_s < 1 and math.isfinite(train_s)
    assert 0 < eval_s < 1 and math.isfinite(eval_s)
