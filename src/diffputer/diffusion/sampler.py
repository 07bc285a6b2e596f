"""Conditional sampling: the E-step (paper Sec. 4.2, Eqs. 5-7, Algorithm 2).

Observed cells follow the forward process (fresh noise at each level), missing cells
follow the reverse process (a stochastic Heun step, EDM Algorithm 2), and the two are
merged after every step. Like the authors' code, each level can be repeated
RePaint-style (Lugmayr et al. 2022): after a merge, re-noise from ``sigma_{i+1}`` back
to ``sigma_i`` and redo the level; the last repeat keeps the merge, the last level
(``-> 0``) runs once.

The sampler takes any denoiser ``D(x, sigma) -> x0_hat`` with ``x`` of shape (n, D)
and ``sigma`` of shape (1, 1) (one level for the whole batch; the denoiser broadcasts
it); it knows nothing of networks or tables.

Not in the paper: with ``guidance`` > 0, every denoised estimate at a level sigma <=
``guidance_sigma_max`` is moved against the gradient (with respect to the noisy input)
of its squared error on the observed cells, weighted ``guidance (1 + sigma^2 /
sigma_data^2)``: reconstruction guidance (Ho et al. 2022, "Video diffusion models",
Sec. 3.1; the weight's sigma-dependence as in pseudoinverse-guided sampling, Song et
al. 2023), on top of the merges. It steers the missing cells toward values the
denoiser finds consistent with the observed ones, which the merges alone reach only
through many RePaint repeats. Each guided call adds a backward pass through the
denoiser.

Not in the paper: with ``conditioned=True`` the denoiser is conditional (called as
``D(x, sigma, (x_obs, known_mask))``, it reads the observed cells itself), so the
missing cells simply follow the reverse process: no merges, no RePaint repeats.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
from collections.abc import Callable

import torch

__all__ = [
    "chunk_bounds",
    "chunk_generators",
    "conditional_sample",
    "guided_calls_per_sample",
    "heun_step",
    "network_calls_per_sample",
    "posterior_mean",
]

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _randn_like(
    x: torch.Tensor, generator: torch.Generator | None, paired: int = 0
) -> torch.Tensor:
    """Standard normal noise shaped like ``x``. With ``paired = p > 0``, rows ``p`` to
    ``2p - 1`` are the negatives of rows ``0`` to ``p - 1`` (antithetic pairs) and the
    rows after them are drawn independently."""
    if paired <= 0:
        return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if 2 * paired > x.shape[0]:
        raise ValueError(f"{paired} antithetic pairs need {2 * paired} rows; got {x.shape[0]}")
    shape = tuple(x.shape[1:])
    half = torch.randn((paired, *shape), generator=generator, device=x.device, dtype=x.dtype)
    rest = torch.randn(
        (x.shape[0] - 2 * paired, *shape), generator=generator, device=x.device, dtype=x.dtype
    )
    return torch.cat([half, -half, rest])


def _sampling_mode(guided: bool):
    # guidance differentiates through the denoiser, which inference mode forbids
    return torch.no_grad() if guided else torch.inference_mode()


def _guided(
    denoiser: Denoiser, x_obs: torch.Tensor, known: torch.Tensor, weight: float, sigma_data: float
) -> Denoiser:
    """``D`` moved against the gradient of its squared error on the known cells."""

    def guided(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            estimate = denoiser(x_in, sigma)
            if not estimate.requires_grad:  # an estimate that ignores x: nothing to guide
                return estimate
            error = torch.where(known, estimate - x_obs, 0.0)
            (grad,) = torch.autograd.grad(
                0.5 * error.float().square().sum(), x_in, allow_unused=True
            )
        if grad is None:
            return estimate.detach()
        scale = weight * (1.0 + sigma.float() ** 2 / sigma_data**2)
        return (estimate.detach().float() - scale * grad.float()).to(estimate.dtype)

    return guided


def _sigma_col(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # one noise level for the whole batch: shape (1, 1), broadcast by the denoiser, so
    # a network computes its noise embedding once instead of once per row
    return sigma.to(x.dtype).reshape(1, 1)


def heun_step(
    denoiser: Denoiser,
    x_cur: torch.Tensor,
    t_cur: torch.Tensor,
    t_next: torch.Tensor,
    gamma: float,
    generator: torch.Generator | None = None,
    second_order: bool = True,
    noise: Callable[[torch.Tensor], torch.Tensor] | None = None,
    to_zero: bool | None = None,
) -> torch.Tensor:
    """One stochastic step of EDM's sampler (Karras et al. 2022, Algorithm 2, lines 4-10).

    ``second_order=False`` skips the correction (lines 9-11): a stochastic Euler step,
    one network call instead of two. ``noise(x)``, when given, draws the churn's noise
    instead of ``generator`` (antithetic pairs). ``to_zero``: whether ``t_next`` is 0
    (no correction then), when the caller knows; otherwise it is read from ``t_next``,
    which on a GPU makes the host wait for the work queued so far.
    """
    # lines 5-6: raise the noise level by gamma ("churn")
    t_hat = t_cur + gamma * t_cur
    eps = noise(x_cur) if noise is not None else _randn_like(x_cur, generator)
    x_hat = x_cur + (t_hat**2 - t_cur**2).sqrt() * eps
    # line 7-8: Euler step from t_hat to t_next
    d_cur = (x_hat - denoiser(x_hat, _sigma_col(t_hat, x_hat))) / t_hat
    x_next = x_hat + (t_next - t_hat) * d_cur
    # lines 9-11: second-order correction unless the step ends at sigma = 0
    if to_zero is None:
        to_zero = not bool(t_next > 0)
    if second_order and not to_zero:
        d_prime = (x_next - denoiser(x_next, _sigma_col(t_next, x_next))) / t_next
        x_next = x_hat + (t_next - t_hat) * (0.5 * d_cur + 0.5 * d_prime)
    return x_next


def network_calls_per_sample(
    num_steps: int,
    resample_repeats: int,
    sigmas: torch.Tensor | None = None,
    resample_sigma_max: float = math.inf,
    solver: str = "heun",
    conditioned: bool = False,
) -> int:
    """Denoiser evaluations spent on one sample of one row: ``(M-1) R 2 + 1`` (Heun).

    With ``resample_sigma_max`` (and the ``sigmas`` it applies to), only the levels
    starting at or below it are repeated; the Euler solver costs one call per step.
    A conditioned sampler repeats nothing: ``(M-1) 2 + 1`` (Heun), ``M`` (Euler).
    """
    per_step = 2 if solver == "heun" else 1
    if conditioned:
        return (num_steps - 1) * per_step + 1
    repeated = num_steps - 1
    if sigmas is not None and not math.isinf(resample_sigma_max):
        repeated = int((sigmas[: num_steps - 1] <= resample_sigma_max).sum())
    steps = repeated * resample_repeats + (num_steps - 1 - repeated)
    return steps * per_step + 1


def guided_calls_per_sample(
    num_steps: int,
    resample_repeats: int,
    sigmas: torch.Tensor,
    resample_sigma_max: float = math.inf,
    solver: str = "heun",
    guidance_sigma_max: float = math.inf,
) -> int:
    """How many of :func:`network_calls_per_sample`'s calls are guided (each also runs
    a backward pass through the denoiser) when guidance applies at levels starting at
    ``sigma_i <= guidance_sigma_max``; 0 without guidance is the caller's to know."""
    per_step = 2 if solver == "heun" else 1
    total = 0
    for i in range(num_steps):
        start = float(sigmas[i])
        if start > guidance_sigma_max:
            continue
        last = i == num_steps - 1  # the step to sigma = 0: one call, never repeated
        repeats = resample_repeats if not last and start <= resample_sigma_max else 1
        total += repeats * (1 if last else per_step)
    return total


def conditional_sample(
    denoiser: Denoiser,
    x_obs: torch.Tensor,
    mask: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    resample_repeats: int = 1,
    S_churn: float = 1.0,
    resample_sigma_max: float = math.inf,
    solver: str = "heun",
    clip: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    conditioned: bool = False,
    guidance: float = 0.0,
    guidance_sigma_max: float = math.inf,
    sigma_data: float = 0.5,
    guidance_columns: torch.Tensor | None = None,
    antithetic_rows: int = 0,
) -> torch.Tensor:
    """Draw one sample of every row from ``p(x | x_obs)``.

    Parameters
    ----------
    denoiser : callable
        ``D(x, sigma)`` with x of shape (n, D) and sigma of shape (1, 1).
    x_obs : Tensor of shape (n, D)
        Rows in the model's scaled space; values under ``mask`` are ignored.
    mask : bool Tensor of shape (n, D)
        True where the cell is missing (to be sampled).
    sigmas : Tensor of shape (M + 1,)
        Descending noise levels ending in 0 (:func:`karras_sigmas`).
    resample_repeats : int, default=1
        RePaint repeats R of every level but the last (authors' code: 20).
    S_churn : float, default=1.0
        EDM churn; ``gamma = min(S_churn / M, sqrt(2) - 1)``.
    resample_sigma_max : float, default=inf
        Repeat only the levels that start at ``sigma_i <= resample_sigma_max`` (the
        others run once). The default repeats every level but the last, as the
        authors' code does.
    solver : {"heun", "euler"}, default="heun"
        Second-order steps (EDM, the authors' code) or first-order stochastic Euler.
    clip : (Tensor, Tensor) of shape (D,), optional
        Clamp every denoised estimate to ``[lo, hi]`` per column ("static
        thresholding"): keeps trajectories of unusual rows from running away.
    generator : torch.Generator, optional
        Source of all randomness (on ``x_obs``'s device).
    conditioned : bool, default=False
        The denoiser is conditional, ``D(x, sigma, (x_obs, known))`` with ``known`` the
        float mask of observed cells: it is given the observed cells instead of having
        them merged in, and ``resample_repeats``/``resample_sigma_max`` do not apply.
    guidance : float, default=0.0
        Reconstruction guidance weight (0: none, as the paper); unconditioned only.
    guidance_sigma_max : float, default=inf
        Guide only the steps that start at ``sigma_i <= guidance_sigma_max``.
    sigma_data : float, default=0.5
        The data's scale in the guidance weight ``guidance (1 + sigma^2 / sigma_data^2)``.
    guidance_columns : bool Tensor of shape (D,), optional
        The columns whose observed cells' error guides (default: all).
    antithetic_rows : int, default=0
        ``p > 0``: rows ``p`` to ``2p - 1`` of the batch are driven by the negated
        noise of rows ``0`` to ``p - 1`` (every draw: the start, the churn, the
        re-noised observed cells and the RePaint steps back up), so that, for the same
        row of the table repeated in both places, the two samples are antithetic
        partners; each is still a sample of ``p(x | x_obs)``.

    Returns
    -------
    Tensor of shape (n, D)
        A sample with the observed cells equal to ``x_obs``.
    """
    if solver not in ("heun", "euler"):
        raise ValueError(f"solver must be 'heun' or 'euler', got {solver!r}")
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, got {guidance!r}")
    guiding = guidance > 0 and not conditioned

    def noise(x: torch.Tensor) -> torch.Tensor:
        return _randn_like(x, generator, antithetic_rows)

    with _sampling_mode(guiding):
        bounds = None if clip is None else [b.to(x_obs.device, x_obs.dtype) for b in clip]

        def clipped(fn: Callable) -> Callable:
            if bounds is None:
                return fn
            lo, hi = bounds

            def clamped(x: torch.Tensor, sigma: torch.Tensor, *known) -> torch.Tensor:
                return torch.clamp(fn(x, sigma, *known), lo, hi)

            return clamped

        guided = None
        if guiding:
            guide = ~mask
            if guidance_columns is not None:
                guide = guide & guidance_columns.to(mask.device)
            guided = clipped(_guided(denoiser, x_obs, guide, guidance, sigma_data))
        denoiser = clipped(denoiser)
        second_order = solver == "heun"
        num_steps = len(sigmas) - 1
        # the levels on the host too: the step decisions below read them there, not
        # from the device (each read from a GPU would wait for the work queued so far)
        levels = sigmas.tolist()
        gamma = min(S_churn / num_steps, math.sqrt(2) - 1)
        x = noise(x_obs) * sigmas[0]  # x_T ~ N(0, T^2 I)
        if conditioned:
            given = (x_obs, (~mask).to(x_obs.dtype))
            conditional = denoiser

            def reads_observed(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
                return conditional(x, sigma, given)

            for i in range(num_steps):
                x = heun_step(
                    reads_observed,
                    x,
                    sigmas[i],
                    sigmas[i + 1],
                    gamma,
                    generator,
                    second_order,
                    noise=noise,
                    to_zero=levels[i + 1] <= 0,
                )
            return torch.where(mask, x, x_obs)
        for i in range(num_steps):
            t_cur, t_next = sigmas[i], sigmas[i + 1]
            repeated = i < num_steps - 1 and levels[i] <= resample_sigma_max
            repeats = resample_repeats if repeated else 1
            step_denoiser = denoiser
            if guided is not None and levels[i] <= guidance_sigma_max:
                step_denoiser = guided
            to_zero = levels[i + 1] <= 0
            for j in range(repeats):
                unknown = heun_step(  # Eq. 6
                    step_denoiser,
                    x,
                    t_cur,
                    t_next,
                    gamma,
                    generator,
                    second_order,
                    noise,
                    to_zero=to_zero,
                )
                known = x_obs + t_next * noise(x_obs)  # Eq. 5
                x = torch.where(mask, unknown, known)  # Eq. 7
                if j < repeats - 1:  # RePaint: back to t_cur and redo the level
                    x = x + (t_cur**2 - t_next**2).sqrt() * noise(x)
        return torch.where(mask, x, x_obs)


def chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """``n`` rows split into near-equal chunks of at most ``size`` rows: ``(start,
    stop)`` pairs. Their count is even when there is more than one, so that two
    workers get equal shares; it depends on ``n`` and ``size`` only, never on the
    number of workers."""
    if n <= 0:
        return []
    count = -(-n // max(1, size))
    count += count % 2 if count > 1 else 0
    edges = [n * k // count for k in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def chunk_generators(
    generator: torch.Generator | None, count: int, device: torch.device | str
) -> list[torch.Generator]:
    """One generator per chunk, seeded in order from ``generator`` (the global RNG
    when None): a chunk's draws depend neither on the thread that runs it nor on when
    it runs, so an E-step gives the same result with any number of workers."""
    device = torch.device(device)
    source = "cpu" if generator is None else generator.device
    seeds = torch.randint(2**62, (count,), generator=generator, device=source).tolist()
    return [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]


class _Serial:
    """``map`` in the calling thread: the one-worker case of :func:`_threads`."""

    @staticmethod
    def map(fn: Callable, *iterables):
        return map(fn, *iterables)


@contextlib.contextmanager
def _threads(workers: int):
    """A pool of ``workers`` threads that share torch's intra-op threads between them
    (one worker: the calling thread). Two chunks on one torch thread each get more done
    than one chunk at a time on two: much of a call's work (the activations, the small
    matrix products of a narrow network) does not split well across threads."""
    if workers <= 1:
        yield _Serial
        return
    total = torch.get_num_threads()
    pool = concurrent.futures.ThreadPoolExecutor(
        workers,
        thread_name_prefix="diffputer-e-step",
        initializer=torch.set_num_threads,
        initargs=(max(1, total // workers),),
    )
    try:
        yield pool
    finally:
        # after an error or an interrupt (Ctrl-C) the chunks not yet started are
        # dropped instead of sampled before the exception gets through (after a
        # normal exit every chunk is done, so there is nothing to drop)
        pool.shutdown(wait=True, cancel_futures=True)
        # torch.set_num_threads also sets the default that new threads start from:
        # give it back (the calling thread's own count never changed)
        torch.set_num_threads(total)


def posterior_mean(
    denoiser: Denoiser,
    x_obs: torch.Tensor,
    mask: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    num_samples: int,
    resample_repeats: int = 1,
    S_churn: float = 1.0,
    resample_sigma_max: float = math.inf,
    solver: str = "heun",
    clip: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 16_384,
    device: torch.device | str | None = None,
    callback: Callable[[int], None] | None = None,
    aggregate: str = "mean",
    median_columns: torch.Tensor | None = None,
    conditioned: bool = False,
    guidance: float = 0.0,
    guidance_sigma_max: float = math.inf,
    sigma_data: float = 0.5,
    guidance_columns: torch.Tensor | None = None,
    antithetic: bool = False,
    workers: int = 1,
) -> torch.Tensor:
    """Average of ``num_samples`` conditional samples per row: the EAP estimate of x_mis
    (or their median, with ``aggregate="median"``).

    Rows without a missing cell are returned as they are, without sampling. The other
    rows are processed in chunks of at most ``batch_size // num_samples`` rows
    (:func:`chunk_bounds`), each chunk with all its samples in one batch, so memory
    stays bounded whatever the table's size. Each chunk draws from its own generator
    (:func:`chunk_generators`), so ``workers`` threads can sample chunks at once and
    the result does not depend on how many there are.

    Parameters
    ----------
    x_obs, mask : Tensor of shape (n, D)
        As in :func:`conditional_sample`; may live on the CPU while ``device`` is a GPU.
        The other sampling arguments are those of :func:`conditional_sample`.
    batch_size : int
        Rows x samples per batch through the denoiser.
    device : device, optional
        Where the denoiser runs (default: ``x_obs``'s device).
    callback : callable, optional
        Called with the number of rows finished after each chunk (progress bars).
    aggregate : {"mean", "median"}
        How the samples of a cell are combined: their mean (the paper: the posterior
        mean, best for squared error) or their median (interpolated for an even count;
        an estimate of the posterior median, best for absolute error).
    median_columns : bool Tensor of shape (D,), optional
        With ``aggregate="median"``, the columns that take the median; the others take
        the mean (one-hot columns, whose mean is the vote of the samples). Default: all.
    conditioned : bool
        The denoiser is conditional (see :func:`conditional_sample`).
    guidance, guidance_sigma_max, sigma_data, guidance_columns
        Reconstruction guidance (see :func:`conditional_sample`).
    antithetic : bool, default=False
        Draw a row's samples in antithetic pairs (sample ``k`` and sample
        ``k + num_samples // 2``, driven by opposite noise; with an odd count the last
        is unpaired). Every sample is still a sample of the posterior; their mean or
        median has less Monte Carlo error when a sample moves with its noise in a
        roughly odd way about the centre.
    workers : int, default=1
        Chunks sampled at once, each in its own thread with an equal share of torch's
        threads (speed only: any count gives the same result). Each worker holds one
        chunk's activations.

    Returns
    -------
    Tensor of shape (n, D), on ``x_obs``'s device
    """
    if aggregate not in ("mean", "median"):
        raise ValueError(f"aggregate must be 'mean' or 'median'; got {aggregate!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    device = x_obs.device if device is None else torch.device(device)
    out = x_obs.clone()
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    if len(rows) == 0:
        return out
    sigmas = sigmas.to(device)
    chunks = chunk_bounds(len(rows), max(1, batch_size // num_samples))
    generators = chunk_generators(generator, len(chunks), device)

    def estimate(bounds: tuple[int, int], chunk_generator: torch.Generator) -> torch.Tensor:
        # conditional_sample enters the sampling mode itself, in the thread that runs it
        idx = rows[bounds[0] : bounds[1]]
        samples = conditional_sample(
            denoiser,
            x_obs[idx].to(device).repeat(num_samples, 1),
            mask[idx].to(device).repeat(num_samples, 1),
            sigmas,
            resample_repeats=resample_repeats,
            S_churn=S_churn,
            resample_sigma_max=resample_sigma_max,
            solver=solver,
            clip=clip,
            generator=chunk_generator,
            conditioned=conditioned,
            guidance=guidance,
            guidance_sigma_max=guidance_sigma_max,
            sigma_data=sigma_data,
            guidance_columns=guidance_columns,
            antithetic_rows=(num_samples // 2) * len(idx) if antithetic else 0,
        )
        samples = samples.reshape(num_samples, len(idx), -1)
        if aggregate == "mean":
            return samples.mean(dim=0).to(out.device)
        median = samples.float().quantile(0.5, dim=0).to(samples.dtype)
        if median_columns is not None:
            where = median_columns.to(median.device)
            median = torch.where(where, median, samples.mean(dim=0))
        return median.to(out.device)

    with _threads(min(workers, len(chunks))) as pool:
        for bounds, chunk_estimate in zip(
            chunks, pool.map(estimate, chunks, generators), strict=True
        ):
            idx = rows[bounds[0] : bounds[1]]
            out[idx] = torch.where(mask[idx], chunk_estimate, x_obs[idx])
            if callback is not None:
                callback(len(idx))
    return out
