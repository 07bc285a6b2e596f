"""An experiment, not a library option: reconstruction guidance with a margin term on
the observed categorical cells.

The preset guides each denoised estimate by the squared error of the observed numeric
cells only (squared error on one-hot blocks was measured harmful on Shoppers:
performance.md, "Reconstruction guidance in the E-step"). Here each observed one-hot
block adds ``cw * relu(max_{k != c} r_k - r_c + margin)`` on its scores ``r`` (the
block's estimate in 0/1 units), which is zero once the block decodes to its observed
category ``c`` by the margin. The sampler's guidance is patched for the run; fits use the
runner's mask-0 cell and ``random_state`` as ``paired.py``, so the lines pair with its
lines for the preset. Prints one JSON line per variant and setting; asserts nothing.

    python benchmarks/categorical_margin.py adult,default "0.2:1,0.2:0.25"
"""

import sys

import torch
import torch.nn.functional as F

import diffputer.diffusion.sampler as S
from _cell import load_cell
from diffputer import DiffPuterImputer
from diffputer._encoding import NUMERIC, SCALE, TableEncoder
from diffputer.config import get_preset

CTX = {}
_fit = TableEncoder.fit


def fit(self, frame):
    out = _fit(self, frame)
    CTX["enc"] = out
    return out


def patched(denoiser, x_obs, known, weight, sigma_data):
    enc = CTX["enc"]
    dev = x_obs.device
    numeric = torch.as_tensor(enc.numeric_columns(), device=dev)
    a = torch.as_tensor(enc.std_ / SCALE, dtype=torch.float32, device=dev)
    b = torch.as_tensor(enc.mean_, dtype=torch.float32, device=dev)
    blocks = [
        (bl.start, bl.stop)
        for col, bl in zip(enc.columns_, enc.blocks(), strict=True)
        if col.kind != NUMERIC
    ]
    margin, cw = CTX["margin"], CTX["cw"]

    def guided(x, sigma):
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            est = denoiser(x_in, sigma)
            if not est.requires_grad:
                return est
            err = torch.where(known & numeric, est - x_obs, 0.0)
            loss = 0.5 * err.float().square().sum()
            raw = est.float() * a + b
            raw_obs = x_obs.float() * a + b
            for s0, s1 in blocks:
                obs = known[:, s0]
                r = raw[:, s0:s1]
                target = raw_obs[:, s0:s1].argmax(1)
                hot = F.one_hot(target, s1 - s0).bool()
                rc = r.masked_fill(~hot, 0).sum(1)
                other = r.masked_fill(hot, -1e9).max(1).values
                loss = loss + cw * torch.where(obs, torch.relu(other - rc + margin), 0.0).sum()
            (grad,) = torch.autograd.grad(loss, x_in, allow_unused=True)
        if grad is None:
            return est.detach()
        scale = weight * (1.0 + sigma.float() ** 2 / sigma_data**2)
        return (est.detach().float() - scale * grad.float()).to(est.dtype)

    return guided


def main() -> None:
    TableEncoder.fit = fit  # the fitted encoder's blocks and scales, for the guidance
    S._guided = patched
    variants = [tuple(float(x) for x in v.split(":")) for v in sys.argv[2].split(",")]
    for ds in sys.argv[1].split(","):
        for margin, cw in variants:
            CTX.update(margin=margin, cw=cw)
            cell = load_cell(ds, 0, 5000)
            imp = DiffPuterImputer(
                preset=get_preset("fast").replace(guidance_cells="observed"),
                random_state=cell.mask,
                categorical_columns=cell.categorical or None,
            )
            cell.fit_and_print(imp, f"margin={margin},cw={cw}")


if __name__ == "__main__":
    main()
