"""What the `paper` preset's arithmetic alone costs on a GPU: a lower bound, per precision.

Issue 5 asks the `paper` preset to run California end to end on a GPU at least 10x
faster than the paper's 1,927 s on an RTX 4090 (Table 2), i.e. in under 193 s. No
session has had a GPU, so this counts the floating-point operations the preset must do
on the dataset (the same projection as ``paper_cost.py``: ``n_em_iter`` E-steps of
``num_samples x calls`` denoiser evaluations per row with a missing cell, the
out-of-sample rows' one E-step, and ``n_em_iter`` M-steps of ``epochs x rows``
training row-passes) and divides them by a matrix-product rate. At 100% of a rate the
seconds are a floor: real kernels reach less, and the M-steps' many small steps also
pay a launch latency per kernel that no rate captures.

The rates, in TFLOP/s: the RTX 4090's fp32 rate (the paper's GPU; vendor datasheet,
82.6), and the H200's fp32 (datasheet, about 67), TF32 (datasheet, about 495 dense)
and bf16 (788, measured on one of this workplace's H200s on random 8192^3 products;
datasheet about 990 dense). The paper's code computes in fp32 (PyTorch leaves TF32 off
for matrix products by default), as the `paper` preset does.

Rows with a missing cell: under MCAR at rate p each row of c columns has one with
probability 1 - (1 - p)^c (96% of California's rows at 30%). Forward flops per row
from ``speed.flops_per_eval`` (the noise MLP once per row in training, where each row
draws its own noise level; once per batch in sampling); a training row-pass costs
three forward passes (forward, and a backward of twice its cost). Prints arithmetic;
measures nothing.

    python benchmarks/paper_gpu_budget.py --dataset california
"""

from __future__ import annotations

import argparse

from diffputer._encoding import TableEncoder
from diffputer.bench.datasets import load_dataset
from diffputer.config import get_preset
from paper_cost import project
from speed import flops_per_eval

#: (name, TFLOP/s, source)
RATES = (
    ("RTX 4090 fp32", 82.6, "datasheet; the paper's GPU and precision"),
    ("H200 fp32", 67.0, "datasheet"),
    ("H200 TF32", 495.0, "datasheet, dense"),
    ("H200 bf16", 788.0, "measured here on random 8192^3 products (KINDS.md)"),
)

PAPER_SECONDS = 1927.0  # Table 2, California, RTX 4090


def budget(n_in: int, n_columns: int, d: int, rate: float, preset) -> dict[str, float]:
    """FLOPs of a whole ``preset`` run on ``n_in`` in-sample rows of ``n_columns``
    columns (``d`` encoded) under MCAR at ``rate``: E-steps (in-sample and the 70/30
    split's out-of-sample rows) and M-steps at the earliest stop and at the cap."""
    width = preset.model.width(d)
    with_missing = 1 - (1 - rate) ** n_columns
    sample_flop = flops_per_eval(d, width, shared_noise=True)
    train_flop = 3 * flops_per_eval(d, width, shared_noise=False)
    # project() takes per-row costs; a row without a missing cell is not sampled
    p = project(n_in, train_flop, sample_flop * with_missing, preset)
    k = preset.em.n_em_iter
    return dict(
        width=width,
        with_missing=with_missing,
        sample_flop=sample_flop,
        train_flop=train_flop,
        evals_per_row=p["evals_per_row"],
        n_out=p["n_out"],
        e_total=k * p["e_step"] + p["out"],
        m_min=k * p["m_min"],
        m_cap=k * p["m_cap"],
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="california")
    ap.add_argument("--rate", type=float, default=0.3, help="MCAR missing rate")
    args = ap.parse_args(argv)

    preset = get_preset("paper")
    ds = load_dataset(args.dataset)
    enc = TableEncoder(categorical_columns=ds.categorical or None).fit(ds.frame)
    n_in = round(0.7 * len(ds.frame))
    b = budget(n_in, ds.frame.shape[1], enc.n_encoded, args.rate, preset)
    tr = preset.train
    print(
        f"# {args.dataset}: {n_in} in-sample rows (+{b['n_out']} out-of-sample), "
        f"{enc.n_encoded} encoded columns, network width {b['width']}; "
        f"{b['with_missing']:.1%} of rows have a missing cell at MCAR {args.rate:.0%}"
    )
    print(
        f"# paper preset: {b['evals_per_row']} evaluations per imputed row per E-step, "
        f"{b['sample_flop'] / 1e6:.1f} MFLOP each; a training row-pass "
        f"{b['train_flop'] / 1e6:.1f} MFLOP; {preset.em.n_em_iter} EM iterations, M-steps "
        f"of {tr.patience + 1} (patience, the earliest stop) to {tr.max_epochs} (cap) epochs"
    )
    print(
        f"# total: E-steps {b['e_total'] / 1e15:,.1f} PFLOP; M-steps "
        f"{b['m_min'] / 1e15:,.1f} to {b['m_cap'] / 1e15:,.1f} PFLOP; target "
        f"{PAPER_SECONDS / 10:.0f} s (10x faster than {PAPER_SECONDS:,.0f} s)"
    )
    print("rate | source | TFLOP/s | E-steps s | M-steps s (earliest stop - cap) | whole run s")
    for name, tflops, source in RATES:
        r = tflops * 1e12
        e_s, m_lo, m_hi = b["e_total"] / r, b["m_min"] / r, b["m_cap"] / r
        print(
            f"{name} | {source} | {tflops:g} | {e_s:,.0f} | {m_lo:,.0f} - {m_hi:,.0f} | "
            f"{e_s + m_lo:,.0f} - {e_s + m_hi:,.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
