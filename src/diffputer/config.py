"""Settings of the method, one frozen config per concern, and the named presets.

Every value of the ``paper`` preset cites where it comes from (the paper's section or
the authors' public code, as summarised in ``shared/design/ALGORITHM.md``). Presets are
data: the algorithm is the same for all of them, only these numbers change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "EMConfig",
    "EncodingConfig",
    "ModelConfig",
    "Preset",
    "SamplerConfig",
    "TrainConfig",
    "get_preset",
]


#: The ways a numeric column may enter the model (EncodingConfig.numeric_transform).
NUMERIC_TRANSFORMS = ("standard", "quantile", "auto")


def _at_least(low: int) -> Interval:
    return Interval(Integral, low, None, closed="left")


def _positive() -> Interval:
    return Interval(Real, 0, None, closed="neither")


def _unit(closed: str) -> Interval:
    return Interval(Real, 0, 1, closed=closed)


#: What each setting accepts, in scikit-learn's constraint language. Every config checks
#: its fields on construction (so a Preset built by hand, by ``replace`` or from a saved
#: file is checked before any training), and DiffPuterImputer's constructor overrides
#: take their constraints from here.
SETTING_CONSTRAINTS: dict[str, list] = {
    # EncodingConfig
    "numeric_transform": [StrOptions(set(NUMERIC_TRANSFORMS))],
    "n_quantiles": [_at_least(1)],
    "min_mode_share": [_unit("both")],
    "max_distinct_share": [_unit("both")],
    # ModelConfig
    "hidden_dim": [_at_least(2), StrOptions({"auto"})],
    "sigma_data": [_positive()],
    "auto_width": [_at_least(2)],
    "auto_wide_width": [_at_least(2)],
    "auto_wide_from": [_at_least(1)],
    "conditioning": [StrOptions({"none", "mask"})],
    "activation": [StrOptions({"silu", "relu"})],
    # TrainConfig
    "lr": [_positive()],
    "batch_size": [_at_least(1)],
    "max_epochs": [_at_least(1)],
    "patience": [_at_least(1)],
    "lr_factor": [_unit("neither")],
    "lr_patience": [_at_least(0)],
    "P_mean": [Interval(Real, None, None, closed="neither")],
    "P_std": [_positive()],
    "warm_start": ["boolean"],
    "observed_loss_iterations": [_at_least(0)],
    "train_precision": [StrOptions({"fp32", "bf16"})],
    "validation_fraction": [_unit("left")],
    "rows_per_m_step": [_at_least(0)],
    "warm_rows_per_m_step": [_at_least(0)],
    "ema_decay": [_unit("left")],
    "mask_rate_max": [Interval(Real, 0, 1, closed="right")],
    "rows_per_sigma": [_at_least(1)],
    "lr_decay_fraction": [_unit("left")],
    "lr_warmup_fraction": [_unit("left")],
    # SamplerConfig
    "num_steps": [_at_least(1)],
    "sigma_min": [_positive()],
    "sigma_max": [_positive()],
    "rho": [_positive()],
    "S_churn": [Interval(Real, 0, None, closed="left")],
    "resample_repeats": [_at_least(1)],
    "num_samples": [_at_least(1)],
    "resample_sigma_max": [Interval(Real, 0, None, closed="left"), Options(Real, {math.inf})],
    "guidance": [Interval(Real, 0, None, closed="left")],
    "antithetic": ["boolean"],
    "guidance_sigma_max": [Interval(Real, 0, None, closed="left"), Options(Real, {math.inf})],
    "guidance_cells": [StrOptions({"observed", "numeric"})],
    "guidance_in_em": ["boolean"],
    "solver": [StrOptions({"heun", "euler"})],
    "clip_denoised": ["boolean"],
    "sample_precision": [StrOptions({"fp32", "bf16"})],
    "final_num_samples": [_at_least(1), None],
    "eval_workers": [_at_least(1), None],
    "aggregate": [StrOptions({"mean", "median"})],
    "eval_batch_size": [_at_least(1), None],
    # EMConfig
    "n_em_iter": [_at_least(1)],
    "init": [StrOptions({"mean"})],
}


class _Checked:
    """Checks a config's fields against SETTING_CONSTRAINTS when it is built."""

    def __post_init__(self) -> None:
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        validate_parameter_constraints(
            {name: SETTING_CONSTRAINTS[name] for name in names},
            {name: getattr(self, name) for name in names},
            caller_name=type(self).__name__,
        )


@dataclass(frozen=True)
class EncodingConfig(_Checked):
    """How numeric columns enter the model (ALGORITHM.md "Encoding")."""

    # Not in the paper ("standard" reproduces it: standardise every column). "quantile":
    # every numeric column first goes through a quantile-normal map fitted on its
    # observed cells; "auto": only discrete columns with a point mass (the most frequent
    # value holds >= min_mode_share of the observed cells, and there are at most
    # max_distinct_share times as many distinct values as observed cells).
    numeric_transform: Literal["standard", "quantile", "auto"] = "standard"
    n_quantiles: int = 1000  # scikit-learn's QuantileTransformer default
    min_mode_share: float = 0.25
    max_distinct_share: float = 0.05


@dataclass(frozen=True)
class ModelConfig(_Checked):
    """The denoiser (paper App. D.4)."""

    hidden_dim: int | Literal["auto"] = 1024  # App. D.4: "5-layer MLP with hidden dimension 1024"
    sigma_data: float = 0.5  # EDM; the encoder scales observed data to std 0.5
    # Not in the paper (a number as hidden_dim reproduces it): hidden_dim="auto" sizes
    # the network by the encoded table, auto_width below auto_wide_from encoded columns
    # and auto_wide_width from there (one-hot-wide tables need the wider network).
    auto_width: int = 128
    auto_wide_width: int = 256
    auto_wide_from: int = 64
    # Not in the paper ("none" reproduces it: an unconditional denoiser, steered in the
    # E-step by merging in the noised observed cells, RePaint-style). "mask": the
    # denoiser also reads the observed cells and their mask (CSDI-style) and is trained
    # to denoise randomly hidden columns from the others (TrainConfig.mask_rate_max).
    conditioning: Literal["none", "mask"] = "none"
    # Not in the paper ("silu" reproduces it: App. D.4's SiLU between the MLP's layers).
    # "relu": ReLU there instead (cheaper on a CPU: no exponential, a cheaper gradient).
    activation: Literal["silu", "relu"] = "silu"

    def width(self, n_features: int) -> int:
        """The network's width h for a table of ``n_features`` encoded columns."""
        if self.hidden_dim == "auto":
            wide = n_features >= self.auto_wide_from
            return self.auto_wide_width if wide else self.auto_width
        return int(self.hidden_dim)  # an int >= 2: checked when the config was built


@dataclass(frozen=True)
class TrainConfig(_Checked):
    """The M-step (paper Sec. 4.1, Eq. 3; App. D.4; authors' ``main.py``)."""

    lr: float = 1e-4  # App. D.4: Adam, learning rate 1e-4
    batch_size: int = 4096  # authors' code
    max_epochs: int = 10_001  # authors' code: range(10000 + 1)
    patience: int = 500  # authors' code: stop after 500 epochs without improvement
    lr_factor: float = 0.9  # authors' code: ReduceLROnPlateau(factor=0.9)
    lr_patience: int = 50  # ALGORITHM.md: ReduceLROnPlateau patience 50
    P_mean: float = -1.2  # EDM loss: ln sigma ~ N(P_mean, P_std^2)
    P_std: float = 1.2
    warm_start: bool = False  # authors' code rebuilds the network every EM iteration
    # Not in the paper (0 reproduces it): the first this-many EM iterations train with the
    # loss on observed cells only (MissDiff-style) instead of all cells of the mean fill.
    observed_loss_iterations: int = 0
    # Not in the paper ("fp32" reproduces it): "bf16" runs the network's matrix products
    # in bfloat16 under autocast where the device supports it (float32 elsewhere).
    train_precision: Literal["fp32", "bf16"] = "fp32"
    # 0: monitor the epoch training loss (the paper); > 0: hold out this fraction of rows
    # and monitor their loss on observed cells at a fixed noise draw.
    validation_fraction: float = 0.0
    # Not in the paper (0 reproduces it): when > 0, an M-step on n rows trains for
    # ceil(rows_per_m_step / n) epochs, at most max_epochs: a fixed amount of data seen
    # per M-step, so small tables get more passes and large ones fewer.
    rows_per_m_step: int = 0
    # Not in the paper (0: rows_per_m_step for every M-step): the budget, as
    # rows_per_m_step, of an M-step that starts from the previous EM iteration's
    # weights (warm_start, every M-step after the first).
    warm_rows_per_m_step: int = 0
    # Not in the paper (0 reproduces it: keep the best epoch's weights): when in (0, 1),
    # an M-step leaves an exponential moving average of its weights (decay per step).
    ema_decay: float = 0.0
    # Only for a conditional denoiser (ModelConfig.conditioning="mask"): every training
    # row hides a share of its columns drawn uniformly from [0, mask_rate_max].
    mask_rate_max: float = 0.8
    # Not in the paper (1 reproduces it: a noise level per row): draw one level per
    # this many rows of a batch (each row's level keeps the log-normal law), so the
    # network embeds a level once for the rows that share it (EDMLoss.rows_per_sigma).
    rows_per_sigma: int = 1
    # Not in the paper (0 reproduces it: a constant rate under ReduceLROnPlateau): the
    # last this-fraction of an M-step's planned steps (its epoch budget's) take the
    # learning rate linearly down to zero, and ReduceLROnPlateau is not used.
    lr_decay_fraction: float = 0.0
    # Not in the paper (0 reproduces it): the first this-fraction of the planned steps
    # raise the learning rate linearly from lr / w to lr (w such steps).
    lr_warmup_fraction: float = 0.0


@dataclass(frozen=True)
class SamplerConfig(_Checked):
    """The E-step (paper Sec. 4.2, Algorithm 2; authors' ``diffusion_utils.py``)."""

    num_steps: int = 50  # App. D.4: M = 50
    sigma_min: float = 0.002  # EDM / authors' code
    sigma_max: float = 80.0  # App. D.4: T = 80
    rho: float = 7.0  # EDM schedule exponent
    S_churn: float = 1.0  # authors' code: gamma = min(S_churn / M, sqrt(2) - 1)
    resample_repeats: int = 20  # authors' code: N = 20 RePaint repeats per level
    num_samples: int = 10  # App. D.4: N = 10 samples averaged (code: 20)
    # Not in the paper (their values reproduce it): repeat only the levels starting at
    # sigma <= this; the solver ("heun": EDM Algorithm 2 as in the authors' code, or
    # "euler": one call per step); clamp denoised estimates to the observed range.
    resample_sigma_max: float = math.inf
    solver: Literal["heun", "euler"] = "heun"
    clip_denoised: bool = False
    sample_precision: Literal["fp32", "bf16"] = "fp32"  # as train_precision, for sampling
    # Not in the paper (None and "mean" reproduce it): the imputations returned (the
    # last E-step of fit, and transform) draw final_num_samples samples (None:
    # num_samples) and combine a numeric cell's samples by their "mean" (posterior
    # mean) or "median" (posterior median, the MAE-optimal estimate); one-hot columns
    # always take the mean (the samples' vote). The E-steps inside EM always average
    # num_samples samples: the M-step is fitted to the posterior mean, as in the paper.
    final_num_samples: int | None = None
    aggregate: Literal["mean", "median"] = "mean"
    # Rows x samples per network call of an E-step (memory and speed only). None: 4,096
    # on a CPU (level with 1,024-65,536 there, docs/performance.md); 65,536 on a GPU,
    # where a call on 4,096 rows of the paper's network is about as short as the
    # launches of its kernels (_em.eval_batch_size).
    eval_batch_size: int | None = None
    # Chunks sampled at once, each in its own thread with a share of torch's threads
    # (None: one per torch thread on a CPU, at most _em.MAX_DEFAULT_WORKERS = 4, as
    # each chunk holds its activations; one on a GPU). Speed and memory only: every
    # chunk draws from its own generator, so any count gives the same imputations.
    eval_workers: int | None = None
    # Not in the paper (0 reproduces it): reconstruction guidance on top of the merges.
    # Every denoised estimate of a step starting at sigma <= guidance_sigma_max moves
    # against the gradient (in the noisy input) of its squared error on the observed
    # cells, weighted guidance * (1 + sigma^2 / sigma_data^2). Each guided network call
    # adds a backward pass. A conditional denoiser (conditioning="mask") ignores it, as
    # it does the RePaint repeats: it reads the observed cells itself.
    guidance: float = 0.0
    guidance_sigma_max: float = math.inf
    # Whose error guides: every observed cell's ("observed"), or only the observed
    # numeric cells' ("numeric"; one-hot codes, whose denoised estimates are soft
    # probabilities, left out).
    guidance_cells: Literal["observed", "numeric"] = "observed"
    # Guide the E-steps inside EM too (True), or only the imputations returned (the
    # last E-step of fit, and transform; False), sparing the inner E-steps' backward
    # passes.
    guidance_in_em: bool = True
    # Not in the paper (False reproduces it): draw each row's samples in antithetic
    # pairs, the second of a pair driven by the negated noise of the first (every draw
    # of the sampler). Each sample is still a posterior sample; the mean or median of
    # the pairs has less Monte Carlo error than that of as many independent samples.
    antithetic: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sigma_min >= self.sigma_max:
            raise ValueError(
                f"SamplerConfig: sigma_min ({self.sigma_min}) must be below sigma_max "
                f"({self.sigma_max})"
            )


@dataclass(frozen=True)
class EMConfig(_Checked):
    """The EM loop (paper Sec. 3.2, 4.3)."""

    n_em_iter: int = 10  # authors' code default (paper Fig. 3: 4-5 suffice)
    init: Literal["mean"] = "mean"  # Sec. 4.3: missing cells start at the column mean


@dataclass(frozen=True)
class Preset:
    """A named bundle of the four configs."""

    name: str
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    em: EMConfig = field(default_factory=EMConfig)
    # Not in the paper (None: ``train`` for every network): the M-step settings for a
    # network narrower than ``model.auto_wide_width`` (``hidden_dim="auto"``'s narrow
    # choice, or a smaller width given as a number). A narrow network's small batches
    # leave two CPU cores half idle, so a preset may train it in larger batches.
    narrow_train: TrainConfig | None = None

    def train_for(self, n_features: int) -> TrainConfig:
        """The M-step settings for a table of ``n_features`` encoded columns."""
        narrow = self.model.width(n_features) < self.model.auto_wide_width
        return self.narrow_train if narrow and self.narrow_train is not None else self.train

    def replace(self, **overrides: Any) -> Preset:
        """A copy with some settings changed, each routed to the config that holds it.

        ``None`` values are ignored (they mean "the preset's value").
        """
        groups: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            group = _FIELD_GROUP.get(key)
            if group is None:
                raise TypeError(f"unknown setting {key!r}; known: {sorted(_FIELD_GROUP)}")
            groups.setdefault(group, {})[key] = value
        changes = {
            group: dataclasses.replace(getattr(self, group), **values)
            for group, values in groups.items()
        }
        if "train" in groups and self.narrow_train is not None:
            # a training setting asked for applies to every network, narrow ones too
            changes["narrow_train"] = dataclasses.replace(self.narrow_train, **groups["train"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preset:
        return cls(
            name=data["name"],
            # files saved before the encoding settings existed have none: the defaults
            encoding=EncodingConfig(**data.get("encoding", {})),
            model=ModelConfig(**data["model"]),
            train=TrainConfig(**data["train"]),
            sampler=SamplerConfig(**data["sampler"]),
            em=EMConfig(**data["em"]),
            # files saved before narrow networks had their own settings have none
            narrow_train=(
                None if data.get("narrow_train") is None else TrainConfig(**data["narrow_train"])
            ),
        )


_GROUPS = {
    "encoding": EncodingConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "sampler": SamplerConfig,
    "em": EMConfig,
}
_FIELD_GROUP = {f.name: group for group, cls in _GROUPS.items() for f in dataclasses.fields(cls)}
# overrides are routed by name alone, so a name may live in one config only
assert len(_FIELD_GROUP) == sum(len(dataclasses.fields(c)) for c in _GROUPS.values())
# and every setting is checked
assert set(SETTING_CONSTRAINTS) == set(_FIELD_GROUP)

#: The paper's settings, exactly (ALGORITHM.md). Days of CPU time on real data.
PAPER = Preset(name="paper")

#: The training of ``fast``'s wide network (the encoded table has 64+ columns).
_FAST_TRAIN = TrainConfig(
    lr=1e-3,
    batch_size=512,
    max_epochs=300,
    rows_per_m_step=1_050_000,
    patience=100,
    lr_patience=1000,
    warm_start=True,
    observed_loss_iterations=1,
    ema_decay=0.999,
    train_precision="bf16",
)

#: A CPU-sized preset: the same EM loop and conditional sampler with a narrower
#: network (width 128, or 256 for tables encoded to 64+ columns) trained warm across
#: EM iterations, an observed-cell loss in the first M-step, a training budget of about
#: 1.05 M rows per M-step (300 epochs on 3,500 rows, 74 on 14,303) that ends on a
#: moving average of the weights. The width-128 network trains in batches of 2,048
#: at learning rate 4e-3, taken linearly to zero over the second half of each M-step,
#: a noise level per 8 rows, in bf16 where the CPU or GPU has it (its M-steps took half
#: the time of 512-row batches on two cores); the width-256 one in batches of 512 at
#: 1e-3 (trained like the narrow one, Default's MAE rose 44%), also in bf16 where
#: native (0.53-0.56x the fit time of float32 at the same MAE). An E-step that
#: spends its RePaint repeats where they matter (levels with sigma <= 1) with Euler
#: steps, guiding each of those steps' denoised estimates toward the observed numeric
#: cells (reconstruction guidance, weight 2), and draws each row's samples in
#: antithetic pairs (one pair averaged inside EM; the median or vote of 8 for the
#: imputations returned, as accurate as 16 independent ones). Discrete numeric columns
#: with a point mass (counts, zero-inflated whole amounts) pass through a
#: quantile-normal map. Measured in docs/performance.md.
FAST = Preset(
    name="fast",
    encoding=EncodingConfig(numeric_transform="auto"),
    model=ModelConfig(hidden_dim="auto"),
    train=_FAST_TRAIN,
    narrow_train=dataclasses.replace(
        _FAST_TRAIN,
        batch_size=2048,
        lr=4e-3,
        lr_decay_fraction=0.5,
        rows_per_sigma=8,
    ),
    sampler=SamplerConfig(
        num_steps=20,
        resample_repeats=10,
        resample_sigma_max=1.0,
        solver="euler",
        clip_denoised=True,
        num_samples=2,
        final_num_samples=8,
        aggregate="median",
        sample_precision="bf16",
        guidance=2.0,
        guidance_sigma_max=1.0,
        guidance_cells="numeric",
        antithetic=True,
    ),
    em=EMConfig(n_em_iter=4),
)

#: Not the paper's method: ``fast`` with a conditional denoiser (CSDI-style; it reads
#: the observed cells and learns to denoise randomly hidden columns from the others)
#: trained once, on observed cells only, for about 8.4 M rows (588 epochs on 14,303,
#: 2,400 on 3,500) in batches of 2,048 with a noise level per 8 rows (two cores train
#: such batches twice as fast as 512 rows) at learning rate 4e-3, taken linearly to
#: zero over the second half of the steps (as accurate as 16.8 M rows at 2e-3), and
#: sampled directly (10 Euler steps, no RePaint repeats; the median or vote of 24
#: samples: more accurate on six tables than 20 steps x 16 samples, at 0.75x the
#: network evaluations). Its training runs in bf16 (autocast) where the CPU or GPU
#: has native bf16 (float32 elsewhere): 40-46% less time on nine tables at the same
#: MAE on average. With a conditional denoiser,
#: EM iterations on the imputed cells cost more than they gave, so there is one (no
#: EM). Measured in docs/performance.md.
CONDITIONAL = dataclasses.replace(
    FAST.replace(
        conditioning="mask",
        n_em_iter=1,
        observed_loss_iterations=1,
        batch_size=2048,
        lr=4e-3,
        lr_decay_fraction=0.5,
        rows_per_sigma=8,
        rows_per_m_step=8_400_000,
        max_epochs=5000,
        patience=500,
        resample_repeats=1,
        guidance=0.0,  # the denoiser reads the observed cells: nothing to guide
        num_steps=10,
        final_num_samples=24,
        antithetic=False,  # fast's antithetic pairs were not measured with this sampler
        train_precision="bf16",
    ),
    name="conditional",
    narrow_train=None,  # one training for every width (measured with these settings)
)

PRESETS: dict[str, Preset] = {p.name: p for p in (PAPER, FAST, CONDITIONAL)}
DEFAULT_PRESET = "fast"


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a clear error lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}") from None
