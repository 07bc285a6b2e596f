"""What the ``paper`` preset would cost on this machine, from measured per-row costs.

The ``paper`` preset (ALGORITHM.md) is too slow to run here end to end, so this script
measures its two unit costs on the real network (the 10.5 M-parameter MLP, for the
dataset's encoded width) and projects them to a whole run:

- one training step (forward, backward, Adam as the M-step runs it) at the preset's
  batch size (or all the rows when fewer), per row;
- one denoiser evaluation in inference mode at the preset's evaluation batch size,
  per row.

A fit of ``n`` in-sample rows is then ``n_em_iter`` M-steps of ``epochs x n`` training
row-passes and ``n_em_iter`` E-steps of ``num_samples x calls`` evaluations per row
(``calls`` from the sampler's own accounting); the out-of-sample rows cost one E-step.
The E-steps have a fixed cost. The M-steps stop at the epoch cap or earlier, when the
training loss has not improved for ``patience`` epochs; both ends are printed. Prints
measurements and projections; asserts nothing.

    python benchmarks/paper_cost.py --dataset california
    python benchmarks/paper_cost.py --dataset california --rows 1330 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from diffputer._em import eval_batch_size
from diffputer._encoding import TableEncoder
from diffputer.bench.datasets import load_dataset
from diffputer.config import get_preset
from diffputer.diffusion.network import build_denoiser
from diffputer.diffusion.sampler import network_calls_per_sample
from diffputer.diffusion.schedule import karras_sigmas
from diffputer.diffusion.training import _adam


def _seconds(fn, reps: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def unit_costs(d: int, width: int, batch: int, eval_batch: int, lr: float, reps: int):
    """Seconds per row of a training step and of an evaluation (measured)."""
    gen = torch.Generator().manual_seed(0)
    net = build_denoiser(d, width)
    opt = _adam(net, lr)  # the optimiser the M-step uses (fused kernel on CPU and CUDA)
    x = torch.randn(batch, d, generator=gen)
    sigma = torch.randn(batch, generator=gen).mul(1.2).sub(1.2).exp()

    def train_step():
        opt.zero_grad(set_to_none=True)
        noisy = x + sigma[:, None] * torch.randn(x.shape, generator=gen)
        loss = (net(noisy, sigma) - x).square().mean()
        loss.backward()
        opt.step()

    xe, se = torch.randn(eval_batch, d, generator=gen), torch.full((eval_batch,), 1.0)

    def evaluate():
        with torch.inference_mode():
            net(xe, se)

    return _seconds(train_step, reps) / batch, _seconds(evaluate, reps) / eval_batch


def project(n: int, train_s: float, eval_s: float, preset) -> dict[str, float]:
    """Seconds of a whole ``preset`` run on ``n`` in-sample rows (and the 70/30 split's
    out-of-sample rows) from the per-row unit costs."""
    tr, sp, em = preset.train, preset.sampler, preset.em
    sigmas = karras_sigmas(sp.num_steps, sp.sigma_min, sp.sigma_max, sp.rho)
    calls = network_calls_per_sample(
        sp.num_steps, sp.resample_repeats, sigmas, sp.resample_sigma_max, sp.solver
    )
    evals_per_row = calls * sp.num_samples
    n_out = round(n * 3 / 7)
    e_step = n * evals_per_row * eval_s
    m_cap = n * tr.max_epochs * train_s
    m_min = n * min(tr.max_epochs, tr.patience + 1) * train_s
    out = n_out * evals_per_row * eval_s
    k = em.n_em_iter
    return dict(
        calls=calls,
        evals_per_row=evals_per_row,
        n_out=n_out,
        e_step=e_step,
        m_cap=m_cap,
        m_min=m_min,
        out=out,
        low=k * (e_step + m_min) + out,
        high=k * (e_step + m_cap) + out,
    )


def _hours(seconds: float) -> str:
    return f"{seconds:,.0f} s ({seconds / 3600:.1f} h)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="california")
    ap.add_argument("--rows", type=int, nargs="*", default=[], help="in-sample row counts")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    preset = get_preset("paper")
    tr, sp, em = preset.train, preset.sampler, preset.em
    ds = load_dataset(args.dataset)
    enc = TableEncoder(categorical_columns=ds.categorical or None).fit(ds.frame)
    d = enc.n_encoded
    width = preset.model.width(d)
    n_full = len(ds.frame)
    rows = args.rows or [round(0.7 * n_full)]
    unit = project(1, 0.0, 0.0, preset)
    print(f"# {args.dataset}: {n_full} rows, {d} encoded columns; paper network width {width}")
    print(f"# torch {torch.__version__}, {args.threads} threads")
    print(
        f"# paper preset: {em.n_em_iter} EM iterations; M-step up to {tr.max_epochs} epochs "
        f"(patience {tr.patience}), batch {tr.batch_size}; E-step {sp.num_samples} samples x "
        f"{unit['calls']} calls = {unit['evals_per_row']} evaluations per row"
    )
    for n in rows:
        batch = min(tr.batch_size, n)
        eval_batch = eval_batch_size(sp, torch.device("cpu"))
        train_s, eval_s = unit_costs(d, width, batch, eval_batch, tr.lr, args.reps)
        p = project(n, train_s, eval_s, preset)
        print(
            f"{n} in-sample rows (+{p['n_out']} out-of-sample): measured {train_s * 1e6:.0f} us "
            f"per training row-pass (batch {batch}), {eval_s * 1e6:.1f} us per evaluation "
            f"(batch {eval_batch})"
        )
        print(
            f"  one E-step: {_hours(p['e_step'])}; all {em.n_em_iter}: "
            f"{_hours(em.n_em_iter * p['e_step'])}"
        )
        print(
            f"  one M-step: {_hours(p['m_cap'])} at the epoch cap, {_hours(p['m_min'])} if "
            f"patience stopped it at the earliest"
        )
        print(f"  out-of-sample imputation: {_hours(p['out'])}")
        print(f"  whole run: {_hours(p['low'])} to {_hours(p['high'])}")
        print(f"  = {p['low'] / 86400:.2f} to {p['high'] / 86400:.2f} days")


if __name__ == "__main__":
    main()
