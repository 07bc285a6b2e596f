"""An experiment, not a library option: a simplex output for the one-hot blocks.

The preset's denoiser estimates every encoded column as EDM does,
``D = c_skip x + c_out F``, one-hot blocks included, so a block's estimate is any
vector, not a distribution over the column's categories. Here the network's outputs on
each categorical block are logits instead: the block's estimate is ``softmax(F_block)``
(mapped into the model's scaled units), which is the form the posterior mean of a
one-hot vector has at every noise level. Numeric columns are unchanged. The M-step's
loss on the block is then either EDM's weighted squared error as before (``mse``) or
the cross-entropy of the block's target (the observed one-hot, or the E-step's mean
block for a missing cell) against the softmax, unweighted, spread evenly over the
block's columns and multiplied by ``cw`` (``ce:CW``: the block counts ``CW`` times its
cross-entropy in the loss's mean over cells; ``ce_dim:CW``: every column of the block
counts it, so a block of K categories ``K * CW`` times).

The denoiser's forward and the loss are patched for the run; fits use the runner's
cell and ``random_state`` as ``paired.py`` does, so the lines pair with its lines for
the preset (variant ``""``, run here too). Prints one JSON line per variant and
setting; asserts nothing.

    python benchmarks/categorical_head.py adult,default ";mse;ce:1;ce_dim:1"
"""

import sys

import torch

import diffputer.diffusion.loss as L
import diffputer.diffusion.network as N
from _cell import load_cell
from diffputer import DiffPuterImputer
from diffputer._encoding import NUMERIC, SCALE, TableEncoder
from diffputer.config import get_preset

CTX: dict = {}
_fit = TableEncoder.fit
_forward = N.EDMPrecond.forward
_loss = L.EDMLoss.__call__


def fit(self, frame):
    out = _fit(self, frame)
    blocks = [
        (bl.start, bl.stop)
        for col, bl in zip(out.columns_, out.blocks(), strict=True)
        if col.kind != NUMERIC and bl.stop - bl.start > 1
    ]
    CTX.update(blocks=blocks, mean=torch.as_tensor(out.mean_), std=torch.as_tensor(out.std_))
    return out


def forward(self, x, sigma, known=None):
    if self.conditional or not CTX.get("mode"):
        return _forward(self, x, sigma, known)
    c_noise, c_skip, c_out, c_in = self.coefficients(x, sigma)
    f_x = self.backbone(c_in * x, c_noise).float()
    out = (c_skip * x + c_out * f_x).clone()
    mean = CTX["mean"].to(x.device, torch.float32)
    std = CTX["std"].to(x.device, torch.float32)
    logp = []
    for s0, s1 in CTX["blocks"]:
        lp = torch.log_softmax(f_x[:, s0:s1], dim=1)
        logp.append(lp)
        out[:, s0:s1] = (lp.exp() - mean[s0:s1]) / std[s0:s1] * SCALE
    CTX["logp"] = logp  # for the loss, which calls the network once
    return out.to(x.dtype)


def loss(self, net, y, generator=None, *, sigma=None, noise=None, known=None):
    values = _loss(self, net, y, generator, sigma=sigma, noise=noise, known=known)
    mode = CTX.get("mode")
    if not mode or mode == "mse" or known is not None:
        return values
    mean = CTX["mean"].to(y.device, torch.float32)
    std = CTX["std"].to(y.device, torch.float32)
    values = values.clone()
    for (s0, s1), lp in zip(CTX["blocks"], CTX["logp"], strict=True):
        target = (y[:, s0:s1].float() / SCALE * std[s0:s1] + mean[s0:s1]).clamp(0, 1)
        target = target / target.sum(1, keepdim=True).clamp_min(1e-6)
        ce = -(target * lp).sum(1, keepdim=True)
        k = s1 - s0
        per_column = CTX["cw"] * (ce if mode == "ce_dim" else ce / k)
        values[:, s0:s1] = per_column.expand(-1, k).to(values.dtype)
    return values


def main() -> None:
    TableEncoder.fit = fit
    N.EDMPrecond.forward = forward
    L.EDMLoss.__call__ = loss
    variants = sys.argv[2].split(";")
    for ds in sys.argv[1].split(","):
        cell = load_cell(ds, 0, 5000)
        for variant in variants:
            mode, _, cw = variant.partition(":")
            CTX.update(mode=mode or None, cw=float(cw or 1))
            imp = DiffPuterImputer(
                preset=get_preset("fast"),
                random_state=cell.mask,
                categorical_columns=cell.categorical or None,
            )
            cell.fit_and_print(imp, f"head={variant}")


if __name__ == "__main__":
    main()
