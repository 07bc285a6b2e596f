"""The EM loop between the encoded table and the diffusion core (paper Sec. 3.2, 4.3).

``x^(0)`` is the mean fill (0 in the scaled space). For k = 1..K:
``theta^(k) = M-step(x^(k-1))`` trains the denoiser on the completed table, and
``x^(k) = E-step(theta^(k), x_obs)`` replaces the missing cells by the average of
N conditional samples. Plain functions on tensors; the estimator owns everything else.

Nothing non-finite reaches the imputations: an M-step whose loss blows up keeps the
previous network and imputations (in the last iteration, the kept network draws the
returned imputations), and an E-step cell that comes out non-finite keeps
its previous value (the mean fill on a first pass), each with a warning.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ._progress import Progress, progress_bar
from .config import Preset, SamplerConfig, TrainConfig
from .diffusion import (
    EDMLoss,
    EDMPrecond,
    MaskDraw,
    build_denoiser,
    karras_sigmas,
    posterior_mean,
    train_denoiser,
)

__all__ = ["EMResult", "TrainingDivergedWarning", "e_step", "m_step", "run_em"]


# A denoiser that outputs F = 0 scores about 1 under EDM preconditioning (its targets
# have unit variance): a best loss a hundred times higher means training blew up.
DIVERGED_LOSS = 100.0


class TrainingDivergedWarning(UserWarning):
    """Training or sampling went non-finite or blew up; the last good state was kept."""


@dataclass
class EMResult:
    net: EDMPrecond
    z: torch.Tensor
    history: list[dict[str, Any]] = field(default_factory=list)


def _n_held_out(n: int, fraction: float) -> int:
    """Rows :func:`_validation_split` holds out of ``n`` (0: none, training uses all)."""
    n_val = int(round(n * fraction))
    return n_val if fraction > 0 and 1 <= n_val < n else 0


def _validation_split(
    n: int, fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Row indices to train on and to hold out (``None`` when not holding out)."""
    n_val = _n_held_out(n, fraction)
    if n_val == 0:
        return torch.arange(n), None
    perm = torch.randperm(n, generator=generator, device=generator.device).cpu()
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def epoch_budget(config: TrainConfig, n_rows: int, warm: bool = False) -> int:
    """Epochs an M-step on ``n_rows`` training rows may run (``config.rows_per_m_step``).

    ``warm``: the M-step starts from the previous iteration's weights, and
    ``config.warm_rows_per_m_step``, when set, replaces ``rows_per_m_step``.
    """
    rows = config.rows_per_m_step
    if warm and config.warm_rows_per_m_step > 0:
        rows = config.warm_rows_per_m_step
    if rows <= 0 or n_rows <= 0:
        return config.max_epochs
    return min(config.max_epochs, -(-rows // n_rows))


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """``torch.bfloat16`` when ``precision == "bf16"`` and the device runs it natively."""
    if precision != "bf16":
        return None
    if device.type == "cuda":  # native from Ampere (compute capability 8.0); emulated before
        return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else None
    try:  # oneDNN's bf16 kernels need AVX512-BF16 / AMX; emulation would be slower
        supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        supported = False
    return torch.bfloat16 if supported else None


#: The most chunks an E-step samples at once unless ``eval_workers`` says otherwise.
#: Each chunk in flight holds its own activations (about 85 MB more peak memory per
#: chunk for a guided width-128 network, docs/performance.md): four keep imputing
#: 1,000,000 x 20 rows near 1.6 GB on a CPU of any size.
MAX_DEFAULT_WORKERS = 4


def sampling_workers(config: SamplerConfig, device: torch.device) -> int:
    """How many chunks an E-step samples at once: ``config.eval_workers``, or by
    default one per torch thread on a CPU, up to :data:`MAX_DEFAULT_WORKERS`; beyond
    that, as many as share the threads evenly in the fewest threads each (6 threads:
    3 chunks on 2 threads each; 64: 4 on 16). On full California with two threads the
    E-steps took 0.79x the time of one chunk at a time on both (docs/performance.md).
    One on a GPU."""
    if config.eval_workers is not None:
        return config.eval_workers
    if device.type != "cpu":
        return 1
    threads = torch.get_num_threads()
    return threads // math.ceil(threads / MAX_DEFAULT_WORKERS)


#: Rows x samples per network call of an E-step when ``eval_batch_size`` is None.
CPU_EVAL_BATCH = 4096
GPU_EVAL_BATCH = 65_536


def eval_batch_size(config: SamplerConfig, device: torch.device) -> int:
    """Rows x samples per network call: ``config.eval_batch_size``, else 4,096 on a CPU
    and 65,536 on a GPU. On a CPU the chunk size measured level from 1,024 to 65,536
    (docs/performance.md, "Small things measured"). On a GPU a call of the paper's
    network on 4,096 rows is about 90 us of bf16 arithmetic at an H200's rate, as
    short as launching its two dozen kernels, so small chunks would leave the GPU
    waiting; 65,536 makes the products long, for about 1.5 GB of activations with the
    paper's width-1024 network in fp32 (0.5 GB per width-2048 layer output). Speed and
    memory only: the chunks take other draws, from the same distribution."""
    if config.eval_batch_size is not None:
        return config.eval_batch_size
    return CPU_EVAL_BATCH if device.type == "cpu" else GPU_EVAL_BATCH


def _with_autocast(net: EDMPrecond, dtype: torch.dtype | None, device: torch.device):
    """The denoiser as a callable whose matrix products run in ``dtype`` (if any)."""
    if dtype is None:
        return net

    def denoise(x: torch.Tensor, sigma: torch.Tensor, *known) -> torch.Tensor:
        with torch.autocast(device_type=device.type, dtype=dtype):
            return net(x, sigma, *known).float()

    return denoise


def m_step(
    net: EDMPrecond,
    z: torch.Tensor,
    mask: torch.Tensor,
    config: TrainConfig,
    *,
    generator: torch.Generator,
    observed_only: bool = False,
    warm: bool = False,
    column_groups: torch.Tensor | None = None,
    callback: Callable[[int, float, float], None] | None = None,
) -> dict[str, Any]:
    """Train ``net`` on the completed table ``z`` (all cells, as Eq. 3 prescribes).

    ``observed_only`` restricts the loss to observed cells (the imputed ones still feed
    the network's input), as MissDiff does; DiffPuter's presets may use it for the
    first M-steps, which otherwise learn the mean fill's pile of values. ``warm``: ``net``
    carries the previous EM iteration's weights (its epoch budget, :func:`epoch_budget`).

    A conditional ``net`` learns to denoise randomly hidden columns from the other
    observed cells (:class:`~diffputer.diffusion.MaskDraw`; ``column_groups``, shape
    (D,), gives each encoded column's table column, default: one each); missing cells
    are never read, and are scored against their imputations unless ``observed_only``.

    With ``config.validation_fraction > 0``, a fixed random subset of rows is held out
    and its loss on observed cells decides early stopping and the weights kept. If the
    best loss is non-finite or above ``DIVERGED_LOSS``, ``net`` gets its starting weights
    back and the record says ``kept_previous``.
    """
    start_state = copy.deepcopy(net.state_dict())
    loss = EDMLoss(config.P_mean, config.P_std, net.sigma_data, config.rows_per_sigma)
    split_gen = torch.Generator(device=generator.device).manual_seed(0)
    train_rows, val_rows = _validation_split(len(z), config.validation_fraction, split_gen)
    train_rows = train_rows.to(z.device)
    masks = None
    if net.conditional:
        groups = torch.arange(z.shape[1]) if column_groups is None else column_groups
        masks = MaskDraw(mask[train_rows], groups, config.mask_rate_max, observed_only)
    val_kwargs: dict[str, Any] = {}
    if val_rows is not None:
        val_rows = val_rows.to(z.device)
        val_kwargs = dict(val_data=z[val_rows], val_weight=(~mask[val_rows]).to(z.dtype))
        if masks is not None:  # a fixed draw, scored on hidden observed cells
            hiding = MaskDraw(mask[val_rows], masks.groups, config.mask_rate_max, True)
            rows = torch.arange(len(val_rows), device=z.device)
            val_kwargs["val_known"], val_kwargs["val_weight"] = hiding(rows, split_gen)
    weight = (~mask[train_rows]).to(z.dtype) if observed_only and masks is None else None
    result = train_denoiser(
        net,
        z[train_rows],
        loss=loss,
        weight=weight,
        autocast_dtype=autocast_dtype(config.train_precision, z.device),
        ema_decay=config.ema_decay,
        masks=masks,
        lr=config.lr,
        batch_size=config.batch_size,
        max_epochs=epoch_budget(config, len(train_rows), warm),
        patience=config.patience,
        lr_factor=config.lr_factor,
        lr_patience=config.lr_patience,
        lr_decay_fraction=config.lr_decay_fraction,
        lr_warmup_fraction=config.lr_warmup_fraction,
        generator=generator,
        callback=callback,
        **val_kwargs,
    )
    unusable = not result.best_loss <= DIVERGED_LOSS  # also catches inf and NaN
    if unusable:
        net.load_state_dict(start_state)
        warnings.warn(
            f"training diverged (best loss {result.best_loss:.3g} after {result.epochs} "
            "epoch(s)); the network was reset to its starting weights and this EM "
            "iteration is not used. Try a smaller lr.",
            TrainingDivergedWarning,
            stacklevel=3,
        )
    elif result.diverged:
        warnings.warn(
            f"training hit a non-finite loss after {result.epochs} epoch(s); the last good "
            "weights were kept. Try a smaller lr.",
            TrainingDivergedWarning,
            stacklevel=3,
        )
    return {
        "epochs": result.epochs,
        "train_loss": result.final_train_loss,
        "best_loss": result.best_loss,
        "diverged": result.diverged or unusable,
        "kept_previous": unusable,
    }


def e_step(
    net: EDMPrecond,
    z: torch.Tensor,
    mask: torch.Tensor,
    config: SamplerConfig,
    *,
    generator: torch.Generator,
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
    callback: Callable[[int], None] | None = None,
    final: bool = True,
    median_columns: torch.Tensor | None = None,
) -> torch.Tensor:
    """Replace the missing cells of ``z`` by their posterior mean under ``net``.

    ``bounds`` (per-column lower and upper limits in the scaled space) are used when
    ``config.clip_denoised`` is set. A cell whose estimate is non-finite keeps its
    value in ``z``, with a warning.

    ``final``: the imputations returned to the user (the last E-step of EM, or new
    rows): ``config.final_num_samples`` samples (when set) combined by
    ``config.aggregate``, the median applying to ``median_columns`` only (bool, shape
    (D,); the numeric columns; None: all). Otherwise an E-step inside EM: the mean of
    ``config.num_samples`` samples.
    """
    device = next(net.parameters()).device
    sigmas = karras_sigmas(config.num_steps, config.sigma_min, config.sigma_max, config.rho)
    num_samples = config.num_samples
    if final and config.final_num_samples is not None:
        num_samples = config.final_num_samples
    net.eval()
    out = posterior_mean(
        _with_autocast(net, autocast_dtype(config.sample_precision, device), device),
        z,
        mask,
        sigmas,
        num_samples=num_samples,
        resample_repeats=config.resample_repeats,
        S_churn=config.S_churn,
        resample_sigma_max=config.resample_sigma_max,
        solver=config.solver,
        clip=bounds if config.clip_denoised else None,
        generator=generator,
        batch_size=eval_batch_size(config, device),
        device=device,
        callback=callback,
        aggregate=config.aggregate if final else "mean",
        median_columns=median_columns,
        conditioned=net.conditional,
        guidance=config.guidance if final or config.guidance_in_em else 0.0,
        guidance_sigma_max=config.guidance_sigma_max,
        sigma_data=net.sigma_data,
        guidance_columns=median_columns if config.guidance_cells == "numeric" else None,
        antithetic=config.antithetic,
        workers=sampling_workers(config, device),
    )
    bad = ~torch.isfinite(out)
    if bool(bad.any()):  # never let a NaN reach an imputed cell
        warnings.warn(
            f"the network gave non-finite values for {int(bad.sum())} missing cell(s); they "
            "keep their previous values (the column mean or mode on a first pass)",
            TrainingDivergedWarning,
            stacklevel=2,
        )
        out = torch.where(bad, z, out)
    return out


def denoiser_for(n_features: int, preset: Preset) -> EDMPrecond:
    """The preset's network for ``n_features`` encoded columns, at the width its model
    settings give that table (initialised from torch's global RNG)."""
    model = preset.model
    conditional = model.conditioning == "mask"
    return build_denoiser(
        n_features, model.width(n_features), model.sigma_data, conditional, model.activation
    )


def _new_denoiser(n_features: int, preset: Preset, generator: torch.Generator) -> EDMPrecond:
    """A freshly initialised network, its weights drawn from ``generator``'s stream.

    ``nn.Linear`` initialises from torch's global RNG; we fork it so that the user's
    global random state is neither read nor changed.
    """
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return denoiser_for(n_features, preset)


def run_em(
    z0: torch.Tensor,
    mask: torch.Tensor,
    preset: Preset,
    *,
    generator: torch.Generator,
    progress: Progress | None = None,
    start: EMResult | None = None,
    on_iteration: Callable[[EMResult], None] | None = None,
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
    median_columns: torch.Tensor | None = None,
    column_groups: torch.Tensor | None = None,
) -> EMResult:
    """DiffPuter's EM loop from the mean fill ``z0`` (missing cells at 0).

    Parameters
    ----------
    z0 : Tensor of shape (n, D)
        Scaled table with missing cells at 0, on the training device.
    mask : bool Tensor of shape (n, D)
        True where missing.
    preset : Preset
    generator : torch.Generator
        On ``z0``'s device; all randomness comes from it.
    progress : Progress, optional
        Progress bars (None: silent).
    start : EMResult, optional
        State after ``len(start.history)`` completed iterations (from a checkpoint,
        with ``generator`` already restored to its state then): EM continues from there.
    on_iteration : callable, optional
        Called with the state after every completed iteration (to save a checkpoint).
    bounds : (Tensor, Tensor), optional
        Per-column observed range in the scaled space, for ``clip_denoised``.
    median_columns : bool Tensor of shape (D,), optional
        The numeric columns, for the last E-step's ``aggregate="median"`` (None: all).
    column_groups : long Tensor of shape (D,), optional
        The table column of every encoded column, for a conditional denoiser's
        training masks (None: every encoded column its own).
    """
    z = z0.clone() if start is None else start.z.clone()
    history: list[dict[str, Any]] = [] if start is None else list(start.history)
    net = None if start is None else start.net
    # without a missing cell there is nothing to iterate: one M-step fits the model
    n_iter = preset.em.n_em_iter if bool(mask.any()) else 1
    train = preset.train_for(z.shape[1])
    for k in range(len(history) + 1, n_iter + 1):
        previous = net
        warm = net is not None and train.warm_start
        if not warm:
            net = _new_denoiser(z.shape[1], preset, generator).to(z.device)
        t0 = time.perf_counter()
        n_train = len(z) - _n_held_out(len(z), train.validation_fraction)
        epochs = epoch_budget(train, n_train, warm)
        with progress_bar(progress, "epochs", epochs, f"M-step {k}") as cb:
            observed_only = k <= train.observed_loss_iterations
            record = m_step(
                net,
                z,
                mask,
                train,
                generator=generator,
                observed_only=observed_only,
                warm=warm,
                column_groups=column_groups,
                callback=cb,
            )
        t1 = time.perf_counter()
        if record["kept_previous"] and previous is not None:
            net = previous  # the blown-up network is dropped with its E-step
        z_new = z
        # a dropped iteration has no E-step, unless it was the last and an earlier one
        # left a good network: that network then draws the returned imputations, with
        # the final sampler settings, as if its own iteration had been the last
        sample = not record["kept_previous"] or (
            k == n_iter and any(not r["kept_previous"] for r in history)
        )
        if bool(mask.any()) and sample:
            with progress_bar(progress, "rows", int(mask.any(1).sum()), f"E-step {k}") as cb:
                z_new = e_step(
                    net,
                    z,
                    mask,
                    preset.sampler,
                    generator=generator,
                    bounds=bounds,
                    callback=cb,
                    final=k == n_iter,
                    median_columns=median_columns,
                )
        t2 = time.perf_counter()
        change = (z_new - z)[mask].abs().mean().item() / 0.5 if bool(mask.any()) else 0.0
        z = z_new
        record.update(
            iteration=k,
            m_step_seconds=t1 - t0,
            e_step_seconds=t2 - t1,
            mean_abs_change=change,
        )
        history.append(record)
        if progress is not None:
            progress.iteration_done(record)
        if on_iteration is not None:
            on_iteration(EMResult(net, z, history))
    return EMResult(net, z, history)
