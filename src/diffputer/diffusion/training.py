"""Training a denoiser: the M-step (paper Sec. 4.1 and App. D.4; authors' ``main.py``).

Adam, mini-batches over shuffled rows, ``ReduceLROnPlateau`` on the monitored loss
(or, not in the paper, a learning rate that rises linearly over the first steps and
falls linearly to zero over the last ones), early stopping after ``patience`` epochs
without improvement, and the best weights kept (or, with ``ema_decay``, an
exponential moving average of the weights over the steps, as diffusion models are
usually sampled). The monitored loss is either the
epoch training loss (the paper) or the EDM loss of held-out rows on a fixed noise draw
(less noisy, so it stops more reliably).

A non-finite loss never reaches the weights returned: training stops at the end of
that epoch (the loss is read once per epoch), the best weights so far are restored,
and the result says why.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .conditioning import MaskDraw
from .loss import EDMLoss

__all__ = ["TrainResult", "fixed_noise", "train_denoiser"]


@dataclass
class TrainResult:
    """What one call of :func:`train_denoiser` did.

    Attributes
    ----------
    epochs : int
        Epochs run.
    best_loss : float
        Best monitored loss (the weights left in the network are those of this epoch).
        After a divergence without held-out rows, the kept weights are scored again on
        a fixed noise draw and the worse of the two numbers is reported: the epoch
        training loss is measured while the weights move, so the weights at the end
        of a blown-up epoch can be far worse than that epoch's loss says.
    final_train_loss : float
        Training loss of the last finite epoch.
    diverged : bool
        True if a non-finite loss stopped training early.
    """

    epochs: int
    best_loss: float
    final_train_loss: float
    diverged: bool = False


def fixed_noise(
    n: int, d: int, loss: EDMLoss, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """A reproducible (sigma, noise) draw for a validation loss that is comparable across epochs.

    Sigmas are the quantiles of the training distribution of ``ln s`` (a fixed grid,
    cycled over rows), so every noise level the loss weights is represented.
    """
    q = (torch.arange(n, dtype=torch.float64) % 64 + 0.5) / 64
    normal = torch.distributions.Normal(0.0, 1.0)
    sigma = (normal.icdf(q) * loss.P_std + loss.P_mean).exp().float().reshape(n, 1)
    noise = torch.randn((n, d), generator=generator, device=device)
    return sigma.to(device), noise


def _step_schedule(
    optimizer: torch.optim.Optimizer, planned: int, warmup_fraction: float, decay_fraction: float
) -> torch.optim.lr_scheduler.LambdaLR | None:
    """The learning rate of step ``s`` (0-based) of ``planned``: ``lr * min(1, (s+1)/w)``
    over the first ``w`` steps, times ``(planned - s) / d`` over the last ``d``; None
    when both fractions are 0 (no such schedule)."""
    warmup = math.ceil(warmup_fraction * planned)
    decay = math.ceil(decay_fraction * planned)
    if not warmup and not decay:
        return None

    def factor(s: int) -> float:
        rise = min(1.0, (s + 1) / warmup) if warmup else 1.0
        left = planned - s  # this step included
        return rise * left / decay if left <= decay else rise

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp_min(1.0)


def _adam(net: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam; torch's fused kernel (the same update in one kernel instead of a loop over
    the weight tensors) on CPU and CUDA. On this project's 2-core CPU it measured level
    with the loop (docs/performance.md, "Fewer sampling steps, more samples, and Adam's
    fused kernel"); on CUDA it is torch's recommended kernel."""
    device = next(net.parameters()).device
    fused = True if device.type in ("cpu", "cuda") else None
    return torch.optim.Adam(net.parameters(), lr=lr, fused=fused)


def train_denoiser(
    net: nn.Module,
    data: torch.Tensor,
    *,
    loss: EDMLoss,
    lr: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    lr_factor: float = 0.9,
    lr_patience: int = 50,
    lr_decay_fraction: float = 0.0,
    lr_warmup_fraction: float = 0.0,
    weight: torch.Tensor | None = None,
    val_data: torch.Tensor | None = None,
    val_weight: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
    ema_decay: float = 0.0,
    masks: MaskDraw | None = None,
    val_known: torch.Tensor | None = None,
    callback: Callable[[int, float, float], None] | None = None,
) -> TrainResult:
    """Fit ``net`` to ``data`` with the EDM loss; leave the best (or averaged) weights in it.

    Parameters
    ----------
    net : nn.Module
        Denoiser ``D(x, sigma)`` (on the same device as ``data``).
    data : Tensor of shape (n, D)
        Training rows (the current completed table in the M-step).
    loss : EDMLoss
    lr, batch_size, max_epochs, patience, lr_factor, lr_patience
        Adam learning rate, rows per step, epoch budget, early-stopping patience (epochs
        without improvement of the monitored loss), ``ReduceLROnPlateau`` settings.
    lr_decay_fraction : float in [0, 1)
        0: the learning rate is ``lr`` until ``ReduceLROnPlateau`` lowers it. Otherwise
        the last this-fraction of the planned steps (``max_epochs`` epochs of
        ``ceil(n / batch_size)`` batches) take it linearly from ``lr`` down to
        ``lr / s`` at the last of those ``s`` steps, and the plateau rule is not used
        (early stopping still is).
    lr_warmup_fraction : float in [0, 1)
        The first this-fraction of the planned steps (``w`` steps) take the learning
        rate linearly from ``lr / w`` up to ``lr`` (then the decay, if any, applies to
        that); the plateau rule is then not used either.
    weight : Tensor of shape (n, D), optional
        Per-cell loss weights (e.g. 1 on observed cells only); default: every cell.
    val_data, val_weight : Tensor of shape (m, D), optional
        Held-out rows: if given, the loss monitored for stopping is theirs on a fixed
        noise draw; otherwise the epoch training loss.
    generator : torch.Generator, optional
        Source of shuffling and noise (on ``data``'s device).
    autocast_dtype : torch.dtype, optional
        Run the network's matrix products in this dtype (``torch.bfloat16``) under
        ``torch.autocast``; weights, optimiser and loss stay float32.
    ema_decay : float
        0: keep the weights of the best monitored epoch (the paper). In (0, 1): keep an
        exponential moving average of the weights over the steps (decay
        ``min(ema_decay, (1 + t) / (10 + t))`` at step t, so early steps do not anchor
        it) and leave that in ``net`` at the end; the monitored loss then only decides
        early stopping.
    masks : MaskDraw, optional
        For a conditional denoiser: draws every batch's known cells and loss weights
        (rows indexed as in ``data``); ``weight`` multiplies the latter.
    val_known : Tensor of shape (m, D), optional
        With ``masks``: the held-out rows' fixed known-cell mask (``val_weight`` then
        selects the cells scored).
    callback : callable, optional
        ``callback(epoch, train_loss, monitored_loss)`` after every epoch.
    """
    autocast = functools.partial(
        torch.autocast,
        device_type=data.device.type,
        dtype=autocast_dtype,
        enabled=autocast_dtype is not None,
    )
    n = data.shape[0]
    optimizer = _adam(net, lr)
    # a per-step warm-up / decay over the planned steps, else the paper's plateau rule
    step_schedule = _step_schedule(
        optimizer, max_epochs * -(-n // batch_size), lr_warmup_fraction, lr_decay_fraction
    )
    plateau = None
    if step_schedule is None:
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=lr_factor, patience=lr_patience
        )
    val_noise = None
    if val_data is not None:
        val_noise = fixed_noise(len(val_data), data.shape[1], loss, generator, data.device)

    # the starting weights are the fallback if the very first epoch diverges
    best_loss, best_state, stale = math.inf, copy.deepcopy(net.state_dict()), 0
    train_loss = math.nan
    epoch = 0
    diverged = False
    params = [p for p in net.parameters() if p.requires_grad]
    ema = [p.detach().clone() for p in params] if ema_decay > 0 else None
    steps = 0
    # float64 where the device has it (Apple's MPS does not)
    sum_dtype = torch.float64 if data.device.type in ("cpu", "cuda") else torch.float32
    for epoch in range(1, max_epochs + 1):
        net.train()
        # the epoch's loss is summed on the device (in float64 where it has it, as
        # Python floats would be) and read once per epoch: a read per step would make
        # a GPU wait for the host between steps. A non-finite batch loss is caught at
        # the epoch's end; the steps after it are wasted, and the best epoch's weights
        # are restored anyway.
        total, count = torch.zeros((), dtype=sum_dtype, device=data.device), 0
        perm = torch.randperm(n, generator=generator, device=data.device)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            w = None if weight is None else weight[idx]
            known = None
            if masks is not None:
                known, hidden = masks(idx, generator)
                w = hidden if w is None else w * hidden
            with autocast():
                batch_loss = _weighted_mean(loss(net, data[idx], generator, known=known), w)
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            optimizer.step()
            if step_schedule is not None:
                step_schedule.step()
            if ema is not None:
                steps += 1
                decay = min(ema_decay, (1 + steps) / (10 + steps))
                with torch.no_grad():  # all tensors in one call (as torch.optim.swa_utils)
                    torch._foreach_lerp_(ema, params, 1.0 - decay)
            total += batch_loss.detach().to(sum_dtype) * len(idx)
            count += len(idx)
        epoch_loss = total.item() / count
        if not math.isfinite(epoch_loss):
            diverged = True
            epoch -= 1
            break
        train_loss = epoch_loss
        monitored = train_loss
        if val_noise is not None:
            with autocast():
                monitored = _validation_loss(net, val_data, val_weight, loss, val_noise, val_known)
            if not math.isfinite(monitored):
                diverged = True
                break
        if plateau is not None:
            plateau.step(monitored)
        if callback is not None:
            callback(epoch, train_loss, monitored)
        if monitored < best_loss:
            best_loss, stale = monitored, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if stale >= patience:
                break
    if ema is not None and not diverged and steps > 0:
        with torch.no_grad():
            for param, average in zip(params, ema, strict=True):
                param.copy_(average)
    else:
        net.load_state_dict(best_state)
    if diverged and val_noise is None and math.isfinite(best_loss):
        rows = data[: min(n, batch_size)]
        check_noise = fixed_noise(len(rows), data.shape[1], loss, generator, data.device)
        check_weight = None if weight is None else weight[: len(rows)]
        check_known = None
        if masks is not None:
            check_known, hidden = masks(torch.arange(len(rows), device=data.device), generator)
            check_weight = hidden if check_weight is None else check_weight * hidden
        with autocast():
            check = _validation_loss(net, rows, check_weight, loss, check_noise, check_known)
        best_loss = max(best_loss, check) if math.isfinite(check) else math.inf
    return TrainResult(epoch, best_loss, train_loss, diverged)


@torch.no_grad()
def _validation_loss(
    net: nn.Module,
    val_data: torch.Tensor,
    val_weight: torch.Tensor | None,
    loss: EDMLoss,
    val_noise: tuple[torch.Tensor, torch.Tensor],
    val_known: torch.Tensor | None = None,
) -> float:
    net.eval()
    sigma, noise = val_noise
    values = loss(net, val_data, sigma=sigma, noise=noise, known=val_known)
    return _weighted_mean(values, val_weight).item()
