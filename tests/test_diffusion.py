"""The torch core: schedule, network, loss, training and the conditional sampler."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from diffputer.diffusion import (
    EDMLoss,
    build_denoiser,
    conditional_sample,
    guided_calls_per_sample,
    karras_sigmas,
    network_calls_per_sample,
    posterior_mean,
    train_denoiser,
    training,
)
from diffputer.diffusion.network import sigma_rows
from diffputer.diffusion.sampler import chunk_bounds, chunk_generators
from diffputer.diffusion.training import _adam


def test_karras_sigmas_match_the_formula():
    s = karras_sigmas(50, 0.002, 80.0, 7.0)
    assert s.shape == (51,)
    assert s[-1] == 0
    assert math.isclose(s[0].item(), 80.0, rel_tol=1e-6)
    assert math.isclose(s[49].item(), 0.002, rel_tol=1e-5)
    i = 10
    expected = (80 ** (1 / 7) + i / 49 * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    assert math.isclose(s[i].item(), expected, rel_tol=1e-6)
    assert torch.all(s[:-1] > s[1:])


def test_paper_network_has_about_10_5_million_parameters():
    net = build_denoiser(n_features=10, hidden_dim=1024)
    n = sum(p.numel() for p in net.parameters())
    assert 10.4e6 < n < 10.6e6


def test_denoiser_preconditioning_limits():
    torch.manual_seed(0)
    net = build_denoiser(3, 8)
    x = torch.randn(5, 3)
    # at tiny noise, c_skip -> 1 and c_out -> 0: D(x, s) -> x
    out = net(x, torch.full((5, 1), 1e-6))
    assert torch.allclose(out, x, atol=1e-4)
    # per-row and broadcast sigma agree
    s = torch.tensor([[0.7]])
    assert torch.allclose(net(x, s), net(x, s.expand(5, 1)), atol=1e-6)


def test_edm_loss_weight_and_shape():
    loss = EDMLoss()
    sigma = torch.tensor([[0.5]])
    # lambda(0.5) = (0.25 + 0.25) / (0.25 * 0.25) = 8
    assert torch.allclose(loss.weight(sigma), torch.tensor([[8.0]]))
    net = build_denoiser(4, 8)
    values = loss(net, torch.randn(6, 4), torch.Generator().manual_seed(0))
    assert values.shape == (6, 4)
    assert torch.all(values >= 0)


def test_sigma_rows_splits_rows_into_consecutive_near_equal_groups():
    assert sigma_rows(10, 3).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert sigma_rows(512, 64).bincount().tolist() == [8] * 64
    assert sigma_rows(7, 1) is None and sigma_rows(7, 7) is None  # broadcast / one per row
    with pytest.raises(ValueError, match="cannot share 8 noise levels among 5 rows"):
        sigma_rows(5, 8)


@pytest.mark.parametrize("conditional", [False, True])
def test_shared_noise_levels_denoise_as_the_same_levels_given_per_row(conditional):
    torch.manual_seed(0)
    net = build_denoiser(5, 16, conditional=conditional)
    x, sigma = torch.randn(10, 5), torch.rand(3, 1) * 2 + 0.05
    known = (torch.randn(10, 5), (torch.rand(10, 5) < 0.5).float()) if conditional else None
    args = (known,) if conditional else ()
    shared = net(x, sigma, *args)
    per_row = net(x, sigma[sigma_rows(10, 3)], *args)
    assert torch.allclose(shared, per_row, atol=1e-6)
    # the rows of a group really got their own level, not another group's
    assert not torch.allclose(shared, net(x, sigma.flip(0)[sigma_rows(10, 3)], *args))


def test_edm_loss_shares_levels_without_changing_their_law():
    net = build_denoiser(4, 8)
    y = torch.randn(512, 4) * 0.5
    seen = []

    def spy(x, sigma, *known):
        seen.append(sigma.detach().clone())
        return net(x, sigma, *known)

    # one level per row (the paper) draws as before: same generator, same levels
    EDMLoss()(spy, y, torch.Generator().manual_seed(3))
    rnd = torch.randn((512, 1), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(seen[-1], (rnd * 1.2 - 1.2).exp())
    loss = EDMLoss(rows_per_sigma=8)
    assert loss(spy, y[:500], torch.Generator().manual_seed(0)).shape == (500, 4)
    assert seen[-1].shape == (63, 1)  # ceil(500 / 8) levels
    g = torch.Generator().manual_seed(1)
    for _ in range(200):
        loss(spy, y, g)
    logs = torch.cat(seen[-200:]).log()
    assert logs.shape == (200 * 64, 1)
    # ln sigma ~ N(-1.2, 1.2^2): 12,800 draws put the mean within 0.04, the sd within 0.03
    assert abs(logs.mean().item() + 1.2) < 0.04
    assert abs(logs.std().item() - 1.2) < 0.03
    with pytest.raises(ValueError, match="rows_per_sigma"):
        EDMLoss(rows_per_sigma=0)


def test_network_calls_per_sample_formula():
    assert network_calls_per_sample(50, 20) == 1961  # the authors' code
    assert network_calls_per_sample(20, 1) == 39


def test_training_lowers_the_loss_and_keeps_best_weights():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(256, 3, generator=g) * 0.5
    torch.manual_seed(0)
    net = build_denoiser(3, 32)
    calls = []
    result = train_denoiser(
        net,
        data,
        loss=EDMLoss(),
        lr=1e-3,
        batch_size=64,
        max_epochs=40,
        patience=100,
        generator=g,
        callback=lambda e, tr, mon: calls.append(mon),
    )
    assert result.epochs == 40 and not result.diverged
    assert min(calls) < calls[0]
    assert result.best_loss == min(calls)


def test_training_reads_the_loss_from_the_device_once_per_epoch(monkeypatch):
    """No host read per step (on a GPU each would make the host wait for the step
    before launching the next): 8 steps per epoch, one ``item()`` per epoch, and the
    epoch loss is still the mean of the batch losses, summed in float64."""
    g = torch.Generator().manual_seed(0)
    data = torch.randn(256, 3, generator=g) * 0.5
    torch.manual_seed(0)
    net = build_denoiser(3, 16)
    reads, batch_losses = [], []
    real_item, real_mean = torch.Tensor.item, training._weighted_mean

    def counting_item(self):
        reads.append(1)
        return real_item(self)

    def recording_mean(values, weight):
        out = real_mean(values, weight)
        batch_losses.append(float(out.detach()))
        return out

    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    monkeypatch.setattr(training, "_weighted_mean", recording_mean)
    losses = []
    result = train_denoiser(
        net,
        data,
        loss=EDMLoss(),
        lr=1e-3,
        batch_size=32,
        max_epochs=5,
        patience=100,
        generator=g,
        callback=lambda e, tr, mon: losses.append(tr),
    )
    assert result.epochs == 5 and len(batch_losses) == 5 * 8
    assert len(reads) == 5
    for epoch, loss in enumerate(losses):
        batch = batch_losses[8 * epoch : 8 * epoch + 8]
        assert loss == pytest.approx(sum(b * 32 for b in batch) / 256, rel=1e-12)


def test_bf16_training_learns_as_float32_does_and_keeps_float32_weights():
    """``train_precision="bf16"`` (the conditional preset, where the CPU or GPU has native
    bf16) trains under autocast; forced here on any CPU, where it is emulated."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.6, 0.6, -0.6], [-0.6, 0.6, 0.6], [0.6, -0.6, 0.6], [-0.6] * 3])
    data = centres[torch.randint(0, 4, (256,), generator=g)]  # clusters: not linear shrinkage
    data = data + 0.05 * torch.randn(256, 3, generator=g)
    sigma = torch.full((256,), 0.5)
    noisy = data + 0.5 * torch.randn(256, 3, generator=g)  # one fixed draw to score on

    def error(net) -> float:
        with torch.no_grad():
            return float(((net(noisy, sigma) - data) ** 2).mean())

    errors = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        torch.manual_seed(0)
        net = build_denoiser(3, 32)
        before = error(net)
        train_denoiser(
            net, data, loss=EDMLoss(), lr=3e-3, batch_size=64, max_epochs=60, patience=100,
            autocast_dtype=dtype, generator=torch.Generator().manual_seed(1),
        )  # fmt: skip
        assert all(p.dtype == torch.float32 for p in net.parameters())
        errors[name] = error(net)
        assert errors[name] < 0.7 * before  # it learned
    assert errors["bf16"] == pytest.approx(errors["fp32"], rel=0.15)


def test_training_with_ema_leaves_the_moving_average_of_the_weights():
    """Two steps: the average starts at the initial weights, decays min(d, (1+t)/(10+t))."""
    data = torch.randn(64, 3, generator=torch.Generator().manual_seed(0)) * 0.5

    def run(ema_decay: float, max_epochs: int) -> dict:
        torch.manual_seed(0)
        net = build_denoiser(3, 16)
        kwargs = dict(loss=EDMLoss(), lr=1e-2, batch_size=64, patience=100)
        g = torch.Generator().manual_seed(1)
        train_denoiser(net, data, max_epochs=max_epochs, ema_decay=ema_decay, generator=g, **kwargs)
        return {k: v.clone() for k, v in net.named_parameters()}

    # a negligible decay leaves the last step's weights (not the best epoch's)
    w0, w1, w2 = run(1e-12, 0), run(1e-12, 1), run(1e-12, 2)
    ema = run(0.9, 2)
    d1, d2 = 2 / 11, 3 / 12  # both below 0.9: the warm-up decays
    for k in w0:
        expected = d2 * (d1 * w0[k] + (1 - d1) * w1[k]) + (1 - d2) * w2[k]
        torch.testing.assert_close(ema[k], expected)
    assert any(not torch.allclose(ema[k], w2[k]) for k in w0)


@pytest.mark.parametrize("warmup", [0.0, 0.2])
def test_training_warms_up_and_decays_the_learning_rate_linearly(warmup):
    """64 rows in batches of 16 for 5 epochs: 20 planned steps, the last 5 decay (and
    with warmup=0.2 the first 4 rise)."""
    data = torch.randn(64, 3, generator=torch.Generator().manual_seed(0)) * 0.5
    seen = []
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"])
    )
    try:
        torch.manual_seed(0)
        train_denoiser(
            build_denoiser(3, 16),
            data,
            loss=EDMLoss(),
            lr=1e-3,
            batch_size=16,
            max_epochs=5,
            patience=100,
            lr_patience=0,  # would cut the rate after any epoch without improvement
            lr_decay_fraction=0.25,
            lr_warmup_fraction=warmup,
            generator=torch.Generator().manual_seed(1),
        )
    finally:
        hook.remove()
    expected = [1e-3] * 15 + [1e-3 * k / 5 for k in (5, 4, 3, 2, 1)]
    if warmup:
        expected[:4] = [1e-3 * k / 4 for k in (1, 2, 3, 4)]
    assert seen == pytest.approx(expected, rel=1e-12)


def test_training_stops_on_non_finite_loss_and_keeps_finite_weights():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(64, 3, generator=g)
    torch.manual_seed(0)
    net = build_denoiser(3, 16)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = train_denoiser(
        net,
        data,
        loss=EDMLoss(),
        lr=1e30,
        batch_size=16,
        max_epochs=50,
        patience=100,
        generator=g,
    )
    assert result.diverged
    assert all(torch.isfinite(v).all() for v in net.state_dict().values())
    if result.epochs == 0:  # diverged in the first epoch: the starting weights are back
        assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_validation_monitoring_uses_held_out_rows():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(128, 3, generator=g) * 0.5
    net = build_denoiser(3, 16)
    seen = []
    train_denoiser(
        net,
        data[:100],
        loss=EDMLoss(),
        lr=1e-3,
        batch_size=32,
        max_epochs=5,
        patience=10,
        val_data=data[100:],
        val_weight=torch.ones(28, 3),
        generator=g,
        callback=lambda e, tr, mon: seen.append((tr, mon)),
    )
    assert len(seen) == 5
    assert all(tr != mon for tr, mon in seen)


# --------------------------------------------------------------------------------------
# Theorem 1 without training: for Gaussian data the ideal denoiser is known in closed
# form, D(x, s) = mu + Sigma (Sigma + s^2 I)^-1 (x - mu), so the E-step's samples must
# follow the Gaussian conditional distribution of the missing cells.
# --------------------------------------------------------------------------------------

MU = torch.tensor([0.3, -0.2, 0.1, 0.0], dtype=torch.float64)
_A = torch.tensor(
    [[0.5, 0.0, 0.0, 0.0], [0.4, 0.3, 0.0, 0.0], [-0.3, 0.2, 0.35, 0.0], [0.1, -0.4, 0.2, 0.45]],
    dtype=torch.float64,
)
SIGMA = _A @ _A.T  # correlations up to about 0.8


def gaussian_denoiser(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    s = float(s.reshape(-1)[0])
    gain = SIGMA @ torch.linalg.inv(SIGMA + s**2 * torch.eye(4, dtype=torch.float64))
    return (MU + (x.double() - MU) @ gain.T).to(x.dtype)


def gaussian_conditional(x_obs: torch.Tensor, missing: list[int]):
    observed = [j for j in range(4) if j not in missing]
    s_mo = SIGMA[missing][:, observed]
    s_oo = SIGMA[observed][:, observed]
    mean = MU[missing] + s_mo @ torch.linalg.solve(s_oo, x_obs[observed] - MU[observed])
    cov = SIGMA[missing][:, missing] - s_mo @ torch.linalg.solve(s_oo, s_mo.T)
    return mean, cov


def case_rows(x_obs: torch.Tensor, missing: list[int], n: int):
    """``n`` copies of the row ``x_obs`` (float32) and the mask of its ``missing`` cells."""
    mask = torch.zeros(n, 4, dtype=torch.bool)
    mask[:, missing] = True
    return x_obs.float().repeat(n, 1), mask


def draw(x_obs, missing, n, **kwargs):
    x, mask = case_rows(x_obs, missing, n)
    g = torch.Generator().manual_seed(0)
    out = conditional_sample(gaussian_denoiser, x, mask, karras_sigmas(50), generator=g, **kwargs)
    return out


CASES = [
    (torch.tensor([0.9, 0.0, -0.5, 0.0], dtype=torch.float64), [1, 3]),
    (torch.tensor([0.0, 0.6, 0.0, -0.7], dtype=torch.float64), [0, 2]),
    (torch.tensor([-0.6, 0.0, 0.0, 0.0], dtype=torch.float64), [1, 2, 3]),
]


@pytest.mark.parametrize("x_obs, missing", CASES)
def test_sampler_matches_gaussian_conditional_with_paper_settings(x_obs, missing):
    """Paper settings (M = 50, R = 20, S_churn = 1) reproduce the conditional law.

    Tolerances: with n = 4000 samples, the Monte Carlo standard error of a mean is
    sd / 63 (< 0.01 here) and of a covariance entry about 2% of the variance. Measured
    discretisation bias at M = 50, R = 20 is about 2% of a conditional sd on the mean
    and up to about 6% on the covariance. We allow 0.1 conditional sd on every mean and
    20% (Frobenius, relative) on the covariance: an order of magnitude above the noise,
    yet far below the errors of a wrong sampler (see the next test: R = 1 misses the
    mean by over one conditional sd).
    """
    n = 4000
    out = draw(x_obs, missing, n, resample_repeats=20).double()
    mean, cov = gaussian_conditional(x_obs, missing)
    sd = cov.diag().sqrt()
    samples = out[:, missing]
    assert torch.all((samples.mean(0) - mean).abs() < 0.1 * sd)
    emp_cov = torch.cov(samples.T)
    assert torch.linalg.norm(emp_cov - cov) / torch.linalg.norm(cov) < 0.2
    observed = [j for j in range(4) if j not in missing]
    assert torch.equal(out[:, observed], x_obs[observed].float().double().repeat(n, 1))


@pytest.mark.parametrize("x_obs, missing", CASES)
def test_cheap_euler_sampler_gets_the_conditional_mean(x_obs, missing):
    """The "fast" E-step (Euler, M = 20, R = 20 on levels sigma <= 1): the EAP is right.

    Measured on these cases: mean bias at most 0.09 conditional sd (paper settings:
    0.07) for 3% of the paper's network calls. Its samples are over-dispersed (the
    covariance is about 28% too large), which the EAP does not use; so only the mean
    is asserted here, with the same 0.1-sd-plus-noise reasoning as above (0.15 sd).
    """
    out = draw(
        x_obs, missing, 4000, resample_repeats=20, resample_sigma_max=1.0, solver="euler"
    ).double()
    mean, cov = gaussian_conditional(x_obs, missing)
    assert torch.all((out[:, missing].mean(0) - mean).abs() < 0.15 * cov.diag().sqrt())


def test_clip_bounds_every_denoised_estimate():
    x = torch.zeros(50, 4)
    mask = torch.ones(50, 4, dtype=torch.bool)

    def wild(x, s):  # a denoiser that always points far away
        return torch.full_like(x, 100.0)

    lo, hi = torch.full((4,), -1.0), torch.full((4,), 2.0)
    out = conditional_sample(
        wild, x, mask, karras_sigmas(5), clip=(lo, hi), generator=torch.Generator().manual_seed(0)
    )
    assert torch.all(out <= 2.0 + 1e-5) and torch.all(out >= -1.0 - 1e-5)


def test_network_calls_with_partial_repeats_and_euler():
    sigmas = karras_sigmas(20)
    n_low = int((sigmas[:19] <= 1.0).sum())
    assert network_calls_per_sample(20, 20, sigmas, 1.0, "euler") == n_low * 20 + (19 - n_low) + 1
    assert (
        network_calls_per_sample(20, 20, sigmas, 1.0, "heun") == 2 * (n_low * 20 + 19 - n_low) + 1
    )


def test_sampler_without_repeats_is_biased_towards_the_prior():
    """Plain replacement (R = 1) under-conditions: the mean lands near the prior mean.

    This is why the RePaint repeats matter (and why the "fast" preset keeps some): the
    replacement method is not exact even as M grows (measured: M = 1000, R = 1 still
    misses the mean by about 0.6 conditional sd in this example).
    """
    x_obs, missing = CASES[0]
    mean, cov = gaussian_conditional(x_obs, missing)
    out = draw(x_obs, missing, 4000, resample_repeats=1).double()
    err = (out[:, missing].mean(0) - mean).abs() / cov.diag().sqrt()
    assert err.max() > 0.3


@pytest.mark.parametrize("x_obs, missing", CASES)
def test_guidance_corrects_replacement_without_repeats(x_obs, missing):
    """Reconstruction guidance (weight 1, every level) repairs the bias of plain
    replacement (R = 1), which the test above shows missing the mean by more than 0.3
    conditional sd (measured without guidance: 0.64-1.05 sd on these cases; with it,
    0.10-0.15 sd, and the variance within 8% of the true one)."""
    mean, cov = gaussian_conditional(x_obs, missing)
    out = draw(x_obs, missing, 4000, resample_repeats=1, guidance=1.0).double()
    samples = out[:, missing]
    assert torch.all((samples.mean(0) - mean).abs() < 0.25 * cov.diag().sqrt())
    ratio = torch.cov(samples.T).diag().sum() / cov.diag().sum()
    assert 0.8 < ratio < 1.25
    observed = [j for j in range(4) if j not in missing]
    assert torch.equal(out[:, observed], x_obs[observed].float().double().repeat(4000, 1))


def test_guidance_zero_is_the_unguided_sampler_and_applies_only_where_asked():
    x_obs, missing = CASES[0]
    plain = draw(x_obs, missing, 200, resample_repeats=3)
    assert torch.equal(plain, draw(x_obs, missing, 200, resample_repeats=3, guidance=0.0))
    # guiding only levels below the smallest one is no guidance at all
    below = draw(x_obs, missing, 200, resample_repeats=3, guidance=1.0, guidance_sigma_max=1e-4)
    assert torch.equal(plain, below)
    assert not torch.equal(plain, draw(x_obs, missing, 200, resample_repeats=3, guidance=1.0))
    with pytest.raises(ValueError, match="guidance"):
        draw(x_obs, missing, 10, guidance=-1.0)


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("guidance_sigma_max", [math.inf, 1.0, 1e-4])
def test_guided_calls_per_sample_counts_the_guided_calls(solver, guidance_sigma_max):
    x_obs, missing = CASES[0]
    sigmas = karras_sigmas(12)
    plain, guided = [], []

    def counted(x, s):
        (guided if x.requires_grad else plain).append(1)
        return gaussian_denoiser(x, s)

    x, mask = case_rows(x_obs, missing, 3)
    kwargs = dict(resample_repeats=3, resample_sigma_max=2.0, solver=solver)
    conditional_sample(
        counted,
        x,
        mask,
        sigmas,
        generator=torch.Generator().manual_seed(0),
        guidance=1.0,
        guidance_sigma_max=guidance_sigma_max,
        **kwargs,
    )
    assert len(plain) + len(guided) == network_calls_per_sample(12, sigmas=sigmas, **kwargs)
    count = guided_calls_per_sample(
        12, sigmas=sigmas, guidance_sigma_max=guidance_sigma_max, **kwargs
    )
    assert len(guided) == count
    assert (count == 0) == (guidance_sigma_max < 1e-3)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(solver="heun", resample_repeats=3),  # the paper's sampler
        dict(solver="euler", resample_repeats=3, resample_sigma_max=1.0, guidance=2.0),
        dict(solver="heun", conditioned=True),
    ],
)
def test_sampling_reads_nothing_from_the_device_between_network_calls(monkeypatch, kwargs):
    """The step decisions (the last step, RePaint and guidance levels) use a host copy
    of the noise levels, read once per call of ``conditional_sample``: on a GPU a read
    per step would make the host wait for each network call before queuing the next."""
    torch.manual_seed(0)
    net = build_denoiser(4, 8, conditional=kwargs.get("conditioned", False)).eval()

    def denoiser(x, sigma, *known):
        return net(x, sigma, *known)

    x, mask = case_rows(CASES[0][0], CASES[0][1], 6)
    reads = []
    for name in ("__bool__", "__float__", "item", "tolist"):
        real = getattr(torch.Tensor, name)

        def counting(self, *args, _real=real, _name=name):
            reads.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(torch.Tensor, name, counting)
    conditional_sample(
        denoiser, x, mask, karras_sigmas(6), generator=torch.Generator().manual_seed(0), **kwargs
    )
    assert reads == ["tolist"]


def test_guidance_columns_choose_whose_error_guides():
    x_obs, missing = CASES[0]
    kwargs = dict(resample_repeats=1, guidance=1.0)
    every = draw(x_obs, missing, 200, **kwargs)
    assert torch.equal(
        every, draw(x_obs, missing, 200, guidance_columns=torch.ones(4, dtype=torch.bool), **kwargs)
    )
    # no column's error guides: the unguided sampler's draws
    none = draw(x_obs, missing, 200, guidance_columns=torch.zeros(4, dtype=torch.bool), **kwargs)
    assert torch.allclose(none, draw(x_obs, missing, 200, resample_repeats=1), atol=1e-6)
    one = torch.tensor([True, False, False, False])  # only observed column 0 guides
    assert not torch.equal(every, draw(x_obs, missing, 200, guidance_columns=one, **kwargs))


def test_guided_posterior_mean_runs_in_chunks_with_clipping():
    """Guidance differentiates through the denoiser, so the E-step must leave inference
    mode for it; observed cells still come back bit for bit, estimates within the clip."""
    x_obs, missing = CASES[0]
    x, mask = case_rows(x_obs, missing, 40)
    mask[:5] = False
    lo, hi = torch.full((4,), -0.5), torch.full((4,), 0.5)
    out = posterior_mean(
        gaussian_denoiser,
        x,
        mask,
        karras_sigmas(10),
        num_samples=4,
        resample_repeats=2,
        clip=(lo, hi),
        generator=torch.Generator().manual_seed(0),
        batch_size=32,
        guidance=2.0,
        aggregate="median",
    )
    assert torch.equal(out[~mask], x[~mask])
    assert torch.all(out[mask] >= -0.5) and torch.all(out[mask] <= 0.5)
    assert not out.requires_grad


def test_guided_sampling_under_bf16_autocast_stays_close_to_float32():
    """The GPU path (and CPUs with native bf16) samples under bf16 autocast; guidance
    then differentiates through the autocast network. Forced here on the CPU: the
    gradient flows, observed cells stay bit for bit, and the draws stay near fp32's."""
    from diffputer._em import _with_autocast

    torch.manual_seed(0)
    net = build_denoiser(6, 32).eval()
    x = torch.randn(64, 6) * 0.5
    mask = torch.rand(64, 6) < 0.4
    clip = (torch.full((6,), -2.0), torch.full((6,), 2.0))

    def sample(denoiser, guidance):
        return conditional_sample(
            denoiser,
            x,
            mask,
            karras_sigmas(8),
            generator=torch.Generator().manual_seed(1),
            resample_repeats=2,
            resample_sigma_max=1.0,
            solver="euler",
            guidance=guidance,
            guidance_sigma_max=1.0,
            clip=clip,
        )

    # a large weight: an untrained network's cross-column gradients are small
    runs = {
        name: sample(_with_autocast(net, dtype, torch.device("cpu")), guidance=20.0)
        for name, dtype in (("fp32", None), ("bf16", torch.bfloat16))
    }
    for out in runs.values():
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
        assert torch.equal(out[~mask], x[~mask])
    unguided = sample(net, guidance=0.0)
    gap = (runs["bf16"] - runs["fp32"])[mask].abs().mean()
    moved = (unguided - runs["fp32"])[mask].abs().mean()
    assert moved > 0.005  # guidance does something here...
    assert gap < 0.1 * moved  # ...and bf16 reproduces most of it


def test_fully_missing_row_samples_the_prior():
    x_obs = torch.zeros(4, dtype=torch.float64)
    out = draw(x_obs, [0, 1, 2, 3], 4000, resample_repeats=2).double()
    assert torch.all((out.mean(0) - MU).abs() < 0.1 * SIGMA.diag().sqrt())
    assert torch.linalg.norm(torch.cov(out.T) - SIGMA) / torch.linalg.norm(SIGMA) < 0.2


def test_posterior_mean_averages_samples_in_chunks_and_keeps_observed_cells():
    x_obs, missing = CASES[0]
    mean, cov = gaussian_conditional(x_obs, missing)
    rows = 300
    x, mask = case_rows(x_obs, missing, rows)
    mask[:10] = False  # complete rows are returned untouched
    g = torch.Generator().manual_seed(0)
    seen = []
    out = posterior_mean(
        gaussian_denoiser,
        x,
        mask,
        karras_sigmas(50),
        num_samples=20,
        resample_repeats=20,
        generator=g,
        batch_size=1000,
        callback=seen.append,
    ).double()
    assert sum(seen) == rows - 10 and len(seen) == math.ceil((rows - 10) / 50)
    assert torch.equal(out[:10], x[:10].double())
    # each row is an average of 20 samples: its error has sd / sqrt(20) spread
    avg = out[10:, missing]
    assert torch.all((avg.mean(0) - mean).abs() < 0.1 * cov.diag().sqrt())
    spread = avg.std(0) / (cov.diag().sqrt() / np.sqrt(20))
    assert torch.all((spread > 0.7) & (spread < 1.3))
    assert torch.equal(out[:, [0, 2]], x[:, [0, 2]].double())


def test_posterior_median_is_the_median_of_the_same_samples():
    x_obs, missing = CASES[0]
    x, mask = case_rows(x_obs, missing, 7)
    kwargs = dict(num_samples=6, resample_repeats=2, batch_size=6 * 7)
    sigmas = karras_sigmas(10)

    def draw(**options):  # each call draws the same samples (same seed), combined as asked
        generator = torch.Generator().manual_seed(3)
        return posterior_mean(
            gaussian_denoiser, x, mask, sigmas, generator=generator, **kwargs, **options
        )

    mean, median = draw(), draw(aggregate="median")
    # the very samples posterior_mean drew: one chunk of 6 x 7 rows, its generator
    # seeded from the one given
    (chunk_generator,) = chunk_generators(torch.Generator().manual_seed(3), 1, "cpu")
    samples = conditional_sample(
        gaussian_denoiser,
        x.repeat(6, 1),
        mask.repeat(6, 1),
        sigmas,
        resample_repeats=2,
        generator=chunk_generator,
    ).reshape(6, 7, 4)
    torch.testing.assert_close(mean, torch.where(mask, samples.mean(0), x))
    expected = torch.where(mask, samples.quantile(0.5, dim=0), x)
    torch.testing.assert_close(median, expected)
    assert not torch.allclose(median[mask], mean[mask])  # a different estimate
    with pytest.raises(ValueError, match="aggregate"):
        posterior_mean(gaussian_denoiser, x, mask, sigmas, num_samples=2, aggregate="mode")
    # the median only where asked (numeric columns): the other columns take the mean
    only = torch.zeros(4, dtype=torch.bool)
    only[missing[0]] = True
    mixed = draw(aggregate="median", median_columns=only)
    torch.testing.assert_close(mixed, torch.where(only, median, mean))


def test_training_optimizer_is_adam_with_torchs_defaults():
    """The M-step's optimiser (torch's fused kernel on CPU) makes the same updates as
    the paper's plain ``torch.optim.Adam(params, lr)``, to rounding."""
    torch.manual_seed(0)
    nets = [build_denoiser(3, 16, 0.5) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    start = [p.detach().clone() for p in nets[0].parameters()]
    optimizers = [_adam(nets[0], 1e-2), torch.optim.Adam(nets[1].parameters(), lr=1e-2)]
    assert optimizers[0].defaults["fused"] is True
    x = torch.randn(32, 3)
    loss = EDMLoss()
    for _ in range(5):
        for net, optimizer in zip(nets, optimizers, strict=True):
            value = loss(net, x, torch.Generator().manual_seed(1)).mean()
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(p, p0) for p, p0 in zip(nets[0].parameters(), start, strict=True))


def test_antithetic_noise_negates_the_first_rows_and_draws_the_rest():
    from diffputer.diffusion.sampler import _randn_like

    x = torch.empty(8, 3)
    noise = _randn_like(x, torch.Generator().manual_seed(0), paired=3)
    torch.testing.assert_close(noise[3:6], -noise[:3])
    assert not torch.allclose(noise[6:], -noise[:2]) and noise[6:].abs().sum() > 0
    # no pairs: the very draws of torch.randn, so other settings keep their numbers
    plain = _randn_like(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(plain, torch.randn(8, 3, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="antithetic pairs"):
        _randn_like(x, torch.Generator(), paired=5)


@pytest.mark.parametrize("x_obs, missing", CASES)
def test_antithetic_samples_keep_the_conditional_law_and_their_pair_means_are_exact(x_obs, missing):
    """Every sample of an antithetic pair is still a sample of the conditional law (the
    tolerances of the paper-settings test above). With a linear (Gaussian) denoiser the
    sampler is affine in its noise, so a pair's mean is the same for every pair: the
    conditional mean up to the sampler's small bias, with no Monte Carlo spread."""
    n = 4000
    out = draw(x_obs, missing, n, resample_repeats=20, antithetic_rows=n // 2).double()
    mean, cov = gaussian_conditional(x_obs, missing)
    sd = cov.diag().sqrt()
    samples = out[:, missing]
    assert torch.all((samples.mean(0) - mean).abs() < 0.1 * sd)
    assert torch.linalg.norm(torch.cov(samples.T) - cov) / torch.linalg.norm(cov) < 0.2
    pair_means = (samples[: n // 2] + samples[n // 2 :]) / 2
    assert torch.all(pair_means.std(0) < 0.01 * sd)  # independent pairs: sd / sqrt(2)
    assert torch.all((pair_means.mean(0) - mean).abs() < 0.1 * sd)


@pytest.mark.parametrize("num_samples, spread", [(2, 0.0), (3, 1 / 3), (4, 0.0)])
def test_posterior_mean_pairs_the_samples_of_each_row(num_samples, spread):
    """``antithetic=True`` pairs sample k with sample k + N // 2 of the same row, chunk by
    chunk; an odd count leaves the last sample unpaired. Gaussian case: the paired
    samples average to the same value, so a row's estimate spreads by sd / 3 with three
    samples (one unpaired) and not at all with two or four (independent: sd / sqrt(N))."""
    x_obs, missing = CASES[0]
    mean, cov = gaussian_conditional(x_obs, missing)
    rows = 600
    x, mask = case_rows(x_obs, missing, rows)
    out = posterior_mean(
        gaussian_denoiser,
        x,
        mask,
        karras_sigmas(20),
        num_samples=num_samples,
        resample_repeats=10,
        generator=torch.Generator().manual_seed(0),
        batch_size=num_samples * 100,  # six chunks
        antithetic=True,
    ).double()[:, missing]
    sd = cov.diag().sqrt()
    if spread == 0.0:
        assert torch.all(out.std(0) < 0.01 * sd)
    else:
        ratio = out.std(0) / (spread * sd)
        assert torch.all((ratio > 0.8) & (ratio < 1.2))
    assert torch.all((out.mean(0) - mean).abs() < 0.15 * sd)


@pytest.mark.parametrize("n, size", [(1, 5), (10, 10), (11, 10), (29, 10), (30, 10), (290, 50)])
def test_chunk_bounds_cover_the_rows_in_an_even_count_of_near_equal_chunks(n, size):
    bounds = chunk_bounds(n, size)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    lengths = [stop - start for start, stop in bounds]
    assert max(lengths) <= size and max(lengths) - min(lengths) <= 1
    assert len(bounds) == 1 or len(bounds) % 2 == 0
    assert (len(bounds) == 1) == (n <= size)
    assert chunk_bounds(0, size) == []


def test_posterior_mean_is_the_same_with_any_number_of_workers():
    """Chunks sampled side by side in threads (a real network, guided, so every worker
    differentiates through it; antithetic pairs; the median) give the very numbers of
    one chunk at a time, and leave torch's thread count as it was."""
    torch.manual_seed(0)
    net = build_denoiser(4, 16, 0.5).eval()
    x, mask = case_rows(*CASES[0], 90)
    mask[:5] = False
    threads = torch.get_num_threads()

    def impute(workers: int, generator_seed: int = 0) -> torch.Tensor:
        seen = []
        out = posterior_mean(
            net,
            x,
            mask,
            karras_sigmas(6),
            num_samples=4,
            resample_repeats=2,
            generator=torch.Generator().manual_seed(generator_seed),
            batch_size=4 * 20,  # 85 rows with a missing cell: six chunks
            callback=seen.append,
            aggregate="median",
            guidance=1.0,
            antithetic=True,
            workers=workers,
        )
        assert sum(seen) == 85 and len(seen) == 6
        return out

    one = impute(1)
    for workers in (2, 3, 8):
        assert torch.equal(impute(workers), one)
        assert torch.get_num_threads() == threads
    assert torch.equal(one[~mask], x[~mask]) and not torch.equal(one[mask], x[mask])
    assert not torch.equal(impute(2, generator_seed=1), one)  # the seed still matters
    with pytest.raises(ValueError, match="workers"):
        impute(0)


def test_an_error_stops_the_chunks_the_workers_have_not_started():
    """An exception on the way out of one chunk (here the progress callback; Ctrl-C
    alike) reaches the caller without the other chunks being sampled first."""
    x, mask = case_rows(*CASES[0], 400)
    calls = []

    def counting(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        # a chunk takes about 0.1 s (the sleep lets go of the GIL), so the error of the
        # first chunk is raised while the workers hold only a few chunks; without it a
        # chunk takes well under a millisecond and, on a busy machine, the workers
        # could finish ten of them before the main thread got to raise
        time.sleep(0.005)
        return gaussian_denoiser(x, s)

    def stop(rows: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        posterior_mean(
            counting,
            x,
            mask,
            karras_sigmas(10),
            num_samples=2,
            generator=torch.Generator().manual_seed(0),
            batch_size=2 * 10,  # 40 chunks
            callback=stop,
            workers=2,
        )
    per_chunk = network_calls_per_sample(10, 1)
    assert len(calls) % per_chunk == 0  # every chunk begun was finished
    assert len(calls) // per_chunk < 10  # the first, and at most a few the workers held
