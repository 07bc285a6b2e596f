"""benchmarks/paper_gpu_budget.py and sample_precision.py: the GPU target's arithmetic
and the bf16-against-fp32 comparison."""

from __future__ import annotations

import numpy as np
import pytest

from diffputer.config import get_preset

from .conftest import load_benchmark_script


@pytest.fixture(scope="module")
def gpu_budget():
    return load_benchmark_script("paper_gpu_budget")


def test_budget_counts_the_paper_networks_flops(gpu_budget):
    # width 1024 on 9 encoded columns: 9*1024 + 1024*2048 + 2048*2048 + 2048*1024 +
    # 1024*9 multiply-adds per row (noise MLP shared in sampling), and 2 * 1024^2 more
    # in training, where each row has its own noise level
    macs = 9 * 1024 + 1024 * 2048 + 2048 * 2048 + 2048 * 1024 + 1024 * 9
    b = gpu_budget.budget(n_in=700, n_columns=9, d=9, rate=0.3, preset=get_preset("paper"))
    assert b["width"] == 1024
    assert b["sample_flop"] == 2 * macs
    assert b["train_flop"] == 3 * 2 * (macs + 2 * 1024 * 1024)
    assert b["with_missing"] == pytest.approx(1 - 0.7**9)
    assert b["n_out"] == 300
    # 10 E-steps on 700 rows + one on the 300 out-of-sample rows, 19,610 calls per row
    evals = (10 * 700 + 300) * 19_610 * (1 - 0.7**9)
    assert b["e_total"] == pytest.approx(evals * 2 * macs)
    # 10 M-steps of 501 (patience) to 10,001 (cap) epochs over the 700 rows
    assert b["m_min"] == pytest.approx(10 * 501 * 700 * b["train_flop"])
    assert b["m_cap"] == pytest.approx(10 * 10_001 * 700 * b["train_flop"])


def test_precision_comparison():
    sample_precision = load_benchmark_script("sample_precision")
    fp32 = np.array([0.5, -1.0, 0.25, 2.0])
    same = sample_precision.compare(fp32, fp32.copy())
    assert same["mae_ratio_bf16_fp32"] == 1.0 and same["ci95"] == [1.0, 1.0]
    assert same["mean_abs_difference"] == 0.0 and same["cells"] == 4
    moved = sample_precision.compare(fp32, fp32 + np.array([0.1, 0.0, -0.05, 0.0]))
    assert moved["mean_abs_difference"] == pytest.approx(0.15 / 4)
    assert moved["max_abs_difference"] == pytest.approx(0.1)
    assert moved["difference_over_mae"] == pytest.approx((0.15 / 4) / (3.75 / 4))
    # |0.6| + 1 + |0.2| + 2 = 3.8 against 3.75
    assert moved["mae_ratio_bf16_fp32"] == pytest.approx(3.8 / 3.75)
    lo, hi = moved["ci95"]
    assert lo <= hi
