"""DiffPuterImputer on mixed tables: invariants, both code paths, settings."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from diffputer import DiffPuterImputer, get_preset
from diffputer._imputer import OVERRIDES
from diffputer.config import PRESETS, SETTING_CONSTRAINTS, ModelConfig, Preset, TrainConfig

from .conftest import TINY, make_mixed_frame, mask_frame


@pytest.fixture(params=["fit_transform", "fit_then_transform"])
def impute(request):
    """Run each invariant through both code paths: EM in-sample and a fresh E-step."""

    def run(frame, **params):
        imp = DiffPuterImputer(**{**TINY, **params})
        if request.param == "fit_transform":
            return imp, imp.fit_transform(frame)
        return imp, imp.fit(frame).transform(frame)

    return run


def assert_observed_unchanged(before: pd.DataFrame, after: pd.DataFrame) -> None:
    for name in before.columns:
        obs = before[name].notna().to_numpy()
        a = before[name].to_numpy()[obs]
        b = after[name].to_numpy()[obs]
        if before[name].dtype.kind == "f":  # bit for bit, not just close
            assert a.tobytes() == b.astype(before[name].dtype).tobytes(), name
        else:
            assert (a == b).all(), name


def test_mixed_frame_invariants(mixed, impute):
    full, masked, mask = mixed
    imp, out = impute(masked)
    assert isinstance(out, pd.DataFrame)
    assert out.shape == masked.shape
    assert out.index.equals(masked.index)
    assert list(out.columns) == list(masked.columns)
    assert out.dtypes.equals(masked.dtypes)
    assert not out.isna().any().any()
    assert_observed_unchanged(masked, out)
    # categorical values come from the categories seen in training
    assert set(out["cat"]) <= {"lo", "hi"}
    assert out["cat"].dtype == masked["cat"].dtype  # declared categories kept
    assert set(out["obj"]) <= {"x", "y"}
    assert set(out["text"]) <= {"u", "v", "w"}
    # integer columns get integers within the observed range
    observed = masked["count"].dropna()
    assert out["count"].between(observed.min(), observed.max()).all()


def test_input_is_not_modified(mixed):
    _, masked, _ = mixed
    copy = masked.copy()
    DiffPuterImputer(**TINY).fit_transform(masked)
    pd.testing.assert_frame_equal(masked, copy)


def test_numpy_in_numpy_out(mixed, impute):
    full, masked, mask = mixed
    X = masked[["a", "b32"]].to_numpy(dtype=np.float64)
    imp, out = impute(X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == X.shape
    assert not np.isnan(out).any()
    obs = ~np.isnan(X)
    assert out[obs].tobytes() == X[obs].tobytes()
    assert not hasattr(imp, "feature_names_in_") and imp.n_features_in_ == 2


def test_numpy_float32_and_categorical_codes():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=50), rng.integers(0, 3, 50)]).astype(np.float32)
    X[rng.random(X.shape) < 0.3] = np.nan
    out = DiffPuterImputer(**TINY, categorical_columns=[1]).fit_transform(X)
    assert out.dtype == np.float32
    assert set(np.unique(out[:, 1])) <= {0.0, 1.0, 2.0}


def test_categorical_override_on_integer_column(mixed):
    _, masked, _ = mixed
    imp = DiffPuterImputer(**TINY, categorical_columns=["count"]).fit(masked)
    kinds = {c.name: c.kind for c in imp.encoder_.columns_}
    assert kinds["count"] == "categorical" and kinds["a"] == "numeric"
    out = imp.transform(masked)
    assert out["count"].dtype == masked["count"].dtype
    assert set(out["count"]) <= set(masked["count"].dropna())


def test_set_output_pandas_on_arrays(mixed):
    _, masked, _ = mixed
    X = masked[["a", "b32"]].to_numpy()
    out = DiffPuterImputer(**TINY).set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["x0", "x1"]


def test_set_output_pandas_keeps_frame_dtypes(mixed):
    _, masked, _ = mixed
    imp = DiffPuterImputer(**TINY).set_output(transform="pandas")
    out = imp.fit(masked).transform(masked)
    assert out.dtypes.equals(masked.dtypes) and out.index.equals(masked.index)


def test_same_seed_same_result_and_global_rng_untouched(mixed):
    _, masked, _ = mixed
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = DiffPuterImputer(**TINY).fit_transform(masked)
    assert torch.equal(state, torch.get_rng_state())
    b = DiffPuterImputer(**TINY).fit_transform(masked)
    pd.testing.assert_frame_equal(a, b)
    imp = DiffPuterImputer(**TINY).fit(masked)
    pd.testing.assert_frame_equal(imp.transform(masked), imp.transform(masked))
    c = DiffPuterImputer(**{**TINY, "random_state": 1}).fit_transform(masked)
    assert not a.equals(c)


def test_history_and_fitted_attributes(mixed):
    _, masked, _ = mixed
    imp = DiffPuterImputer(**TINY).fit(masked)
    assert imp.n_iter_ == 2 and len(imp.history_) == 2
    for record in imp.history_:
        assert record["epochs"] >= 1
        assert np.isfinite(record["train_loss"])
        assert record["m_step_seconds"] > 0 and record["e_step_seconds"] > 0
        assert record["mean_abs_change"] > 0
    assert list(imp.feature_names_in_) == list(masked.columns)
    assert imp.n_features_in_ == masked.shape[1]
    assert imp.preset_.em.n_em_iter == 2 and imp.preset_.model.hidden_dim == 16


def test_complete_table_is_returned_unchanged_after_one_m_step():
    full = make_mixed_frame()
    imp = DiffPuterImputer(**TINY)
    out = imp.fit_transform(full)
    pd.testing.assert_frame_equal(out, full)
    assert imp.n_iter_ == 1


def test_transform_imputes_new_rows(mixed):
    _, masked, _ = mixed
    imp = DiffPuterImputer(**TINY).fit(masked)
    new, _ = mask_frame(make_mixed_frame(n=25, seed=5), seed=7)
    out = imp.transform(new)
    assert not out.isna().any().any()
    assert_observed_unchanged(new, out)
    assert out.index.equals(new.index)


@pytest.mark.parametrize("rows_per_sigma", [1, 16])  # 16: 8 noise levels per batch of 128
def test_em_learns_dependence_better_than_mean(rows_per_sigma):
    """With a strong linear relation, a short EM run must beat the mean fill."""
    rng = np.random.default_rng(0)
    n = 400
    a = rng.normal(size=n)
    full = pd.DataFrame({"a": a, "b": a + 0.1 * rng.normal(size=n), "c": -a})
    masked, mask = mask_frame(full, rate=0.3, seed=2)
    out = DiffPuterImputer(
        preset=get_preset("fast").replace(rows_per_sigma=rows_per_sigma),
        n_em_iter=2,
        hidden_dim=64,
        max_epochs=150,
        batch_size=128,
        lr=2e-3,
        num_steps=10,
        resample_repeats=5,
        num_samples=5,
        random_state=0,
        device="cpu",
    ).fit_transform(masked)
    err = np.abs(out.to_numpy() - full.to_numpy())[mask].mean()
    mean_err = np.abs(masked.fillna(masked.mean()).to_numpy() - full.to_numpy())[mask].mean()
    assert err < 0.6 * mean_err


@pytest.mark.parametrize(
    "rows, max_epochs, expected",
    [("off", 7, 7), ("2n+1", 7, 3), ("2n+1", 2, 2), ("1", 7, 1)],  # ceil(rows / n), capped
)
def test_m_step_epochs_follow_rows_per_m_step(mixed, rows, max_epochs, expected):
    _, masked, _ = mixed
    rows_per_m_step = {"off": 0, "2n+1": 2 * len(masked) + 1, "1": 1}[rows]
    imp = DiffPuterImputer(
        **{**TINY, "max_epochs": max_epochs, "patience": 100},
        rows_per_m_step=rows_per_m_step,
    ).fit(masked)
    assert [r["epochs"] for r in imp.history_] == [expected] * imp.n_iter_


@pytest.mark.parametrize("warm_start, expected", [(True, [3, 1, 1]), (False, [3, 3, 3])])
def test_warm_rows_per_m_step_sets_the_budget_of_warm_started_m_steps(mixed, warm_start, expected):
    _, masked, _ = mixed
    settings = {k: v for k, v in TINY.items() if k not in ("random_state", "device")}
    preset = get_preset("fast").replace(
        **{**settings, "n_em_iter": 3, "max_epochs": 7, "patience": 100},
        warm_start=warm_start,
        rows_per_m_step=2 * len(masked) + 1,  # 3 epochs
        warm_rows_per_m_step=1,  # 1 epoch, only where the weights carry over
    )
    imp = DiffPuterImputer(preset=preset, random_state=0, device="cpu").fit(masked)
    assert [r["epochs"] for r in imp.history_] == expected


def test_fast_preset_trains_small_tables_longer():
    from diffputer._em import epoch_budget

    train = get_preset("fast").train
    assert epoch_budget(train, 3_500) == 300  # the measured budget on 3,500-row tables
    assert epoch_budget(train, 14_303) == 74  # full California's training rows
    assert epoch_budget(train, 1_000_000) == 2
    assert epoch_budget(train, 10) == train.max_epochs
    assert epoch_budget(get_preset("paper").train, 3_500) == 10_001


def test_fast_trains_its_narrow_network_in_larger_batches():
    fast = get_preset("fast")
    narrow, wide = fast.train_for(9), fast.train_for(64)  # widths 128 and 256
    assert wide is fast.train and narrow is fast.narrow_train
    changed = ("batch_size", "lr", "lr_decay_fraction", "rows_per_sigma")
    assert [getattr(narrow, k) for k in changed] == [2048, 4e-3, 0.5, 8]
    assert [getattr(wide, k) for k in changed] == [512, 1e-3, 0.0, 1]
    assert narrow.train_precision == wide.train_precision == "bf16"  # where native
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    differ = {k for k in fields if getattr(narrow, k) != getattr(wide, k)}
    assert differ == set(changed)  # the budget, warm start, moving average... are shared
    # a width given as a number is narrow below the auto choice's wide width
    assert fast.replace(hidden_dim=255).train_for(500) is fast.narrow_train
    assert fast.replace(hidden_dim=256).train_for(9) is fast.train
    # a training setting asked for applies at every width; the rest stay as they were
    asked = fast.replace(batch_size=100, lr=0.01)
    for train in (asked.train_for(9), asked.train_for(64)):
        assert (train.batch_size, train.lr) == (100, 0.01)
    assert asked.narrow_train.rows_per_sigma == 8 and asked.train.rows_per_sigma == 1
    for name in ("paper", "conditional"):  # one training for every width
        assert get_preset(name).narrow_train is None
    # files saved before narrow settings existed load with none
    old = {k: v for k, v in fast.to_dict().items() if k != "narrow_train"}
    assert Preset.from_dict(old).narrow_train is None
    assert Preset.from_dict(fast.to_dict()) == fast


@pytest.mark.parametrize("hidden_dim, batch", [("auto", 48), (256, 64)])
def test_the_em_loop_trains_with_the_settings_of_its_width(mixed, monkeypatch, hidden_dim, batch):
    import diffputer._em as em

    _, masked, _ = mixed
    seen = []
    m_step = em.m_step

    def recording(net, z, mask, config, **kwargs):
        seen.append(config)
        return m_step(net, z, mask, config, **kwargs)

    monkeypatch.setattr(em, "m_step", recording)
    tiny = {
        k: v
        for k, v in TINY.items()
        if k not in ("batch_size", "hidden_dim", "random_state", "device")
    }
    preset = get_preset("fast").replace(**tiny, hidden_dim=hidden_dim)
    preset = dataclasses.replace(
        preset,
        train=dataclasses.replace(preset.train, batch_size=64),
        narrow_train=dataclasses.replace(preset.narrow_train, batch_size=48),
    )
    DiffPuterImputer(preset=preset, random_state=0, device="cpu").fit(masked)
    assert [c.batch_size for c in seen] == [batch] * preset.em.n_em_iter


def test_paper_preset_has_every_paper_value():
    p = get_preset("paper")
    assert p.model.hidden_dim == 1024 and p.model.sigma_data == 0.5
    t = p.train
    assert (t.lr, t.batch_size, t.max_epochs, t.patience) == (1e-4, 4096, 10_001, 500)
    assert (t.lr_factor, t.lr_patience) == (0.9, 50)
    assert (t.P_mean, t.P_std) == (-1.2, 1.2)
    assert t.warm_start is False and t.validation_fraction == 0.0
    assert t.rows_per_m_step == t.warm_rows_per_m_step == 0  # max_epochs, whatever the size
    assert t.observed_loss_iterations == 0  # the loss covers every cell (Eq. 3)
    assert t.ema_decay == 0.0  # the best epoch's weights are kept, as the authors' code
    assert t.rows_per_sigma == 1  # a noise level per row (EDM's loss)
    assert t.lr_decay_fraction == t.lr_warmup_fraction == 0.0  # only ReduceLROnPlateau
    s = p.sampler
    assert (s.num_steps, s.sigma_min, s.sigma_max, s.rho) == (50, 0.002, 80.0, 7.0)
    assert (s.S_churn, s.resample_repeats, s.num_samples) == (1.0, 20, 10)
    assert s.resample_sigma_max == math.inf  # every level but the last is repeated
    assert s.solver == "heun" and s.clip_denoised is False
    assert s.aggregate == "mean"  # the posterior mean (EAP), Sec. 4.2
    assert s.antithetic is False  # independent samples
    assert t.train_precision == "fp32" and s.sample_precision == "fp32"
    assert p.em.n_em_iter == 10 and p.em.init == "mean"
    assert p.encoding.numeric_transform == "standard"  # every column standardised
    assert p.narrow_train is None and p.train_for(9) is p.train  # one training, any width


def test_presets_differ_only_in_numbers():
    fields = {f.name for f in dataclasses.fields(get_preset("paper"))}
    for preset in PRESETS.values():
        assert {f.name for f in dataclasses.fields(preset)} == fields


def test_overrides_reach_the_settings():
    imp = DiffPuterImputer(
        preset="paper",
        num_steps=7,
        lr=0.01,
        warm_start=True,
        aggregate="median",
        numeric_transform="quantile",
    )
    p = imp._resolve_preset()
    assert p.sampler.num_steps == 7 and p.train.lr == 0.01 and p.train.warm_start
    assert p.sampler.aggregate == "median" and p.encoding.numeric_transform == "quantile"
    assert p.model.hidden_dim == 1024  # untouched


def test_a_preset_object_gives_every_setting(mixed):
    _, masked, _ = mixed
    custom = get_preset("fast").replace(sigma_max=40.0, hidden_dim=8)  # no argument for sigma_max
    imp = DiffPuterImputer(preset=custom, num_steps=3)
    p = imp._resolve_preset()
    assert p.sampler.sigma_max == 40.0 and p.model.hidden_dim == 8  # the object's
    assert p.sampler.num_steps == 3  # and the constructor's overrides on top
    assert imp.get_params()["preset"] is custom  # kept as given (clone, grid search)
    fitted = DiffPuterImputer(**{**TINY, "preset": custom}).fit(masked)
    assert fitted.preset_.sampler.sigma_max == 40.0
    assert fitted.preset_.model.hidden_dim == TINY["hidden_dim"]


def test_auto_width_follows_the_encoded_width():
    model = ModelConfig(hidden_dim="auto")
    assert model.width(9) == model.auto_width == 128
    assert model.width(63) == 128 and model.width(64) == model.auto_wide_width == 256
    assert dataclasses.replace(model, hidden_dim=48).width(500) == 48  # a number is the width
    with pytest.raises(ValueError, match="'hidden_dim' parameter of ModelConfig .* Got 'wide'"):
        dataclasses.replace(model, hidden_dim="wide")  # refused when built, not when used


@pytest.mark.parametrize(
    "setting, message",
    [
        (dict(num_steps=0), "'num_steps' parameter of SamplerConfig must be an int in the range"),
        (dict(ema_decay=1.0), "'ema_decay' parameter of TrainConfig must be a float in the range"),
        (dict(solver="rk4"), "'solver' parameter of SamplerConfig must be a str among"),
        (dict(numeric_transform="log"), "'numeric_transform' parameter of EncodingConfig"),
        (dict(lr_factor=1.0), "'lr_factor' parameter of TrainConfig"),
        (dict(rows_per_sigma=0), "'rows_per_sigma' parameter of TrainConfig"),
        (dict(lr_decay_fraction=1.0), "'lr_decay_fraction' parameter of TrainConfig"),
        (dict(n_em_iter=2.5), "'n_em_iter' parameter of EMConfig must be an int"),
        (dict(sigma_max=0.001), r"sigma_min \(0.002\) must be below sigma_max \(0.001\)"),
    ],
)
def test_a_hand_built_preset_is_checked_setting_by_setting(setting, message):
    # Settings the constructor does not expose reach the estimator only inside a Preset:
    # each is checked when the config holding it is built, with the setting named
    with pytest.raises(ValueError, match=message):
        get_preset("fast").replace(**setting)
    fine = get_preset("fast").replace(resample_sigma_max=math.inf, lr_patience=0)
    assert fine.sampler.resample_sigma_max == math.inf and fine.train.lr_patience == 0


def test_constructor_overrides_accept_what_the_settings_accept():
    for name in OVERRIDES:  # one table: an override is its setting's constraint, or None
        constraints = DiffPuterImputer._parameter_constraints[name]
        assert constraints == [*SETTING_CONSTRAINTS[name], None], name
    with pytest.raises(ValueError, match="'ema_decay' parameter of DiffPuterImputer"):
        DiffPuterImputer(ema_decay=1.5).fit(np.array([[1.0, np.nan], [2.0, 3.0]]))


@pytest.mark.parametrize("n_categories, width", [(3, 128), (70, 256)])
def test_auto_width_builds_the_network_it_names(n_categories, width, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=140),
            "c": pd.Categorical(rng.permutation(140) % n_categories),  # each one seen
        }
    )
    frame.loc[::4, "x"] = np.nan
    params = {**TINY, "hidden_dim": "auto"}
    imp = DiffPuterImputer(**params).fit(frame)
    n_encoded = imp.encoder_.n_encoded
    assert (n_encoded >= 64) == (width == 256)
    assert imp.denoiser_.backbone.proj.out_features == width
    imp.save(tmp_path / "m.dpt")  # the file keeps "auto" and rebuilds the same network
    loaded = DiffPuterImputer.load(tmp_path / "m.dpt")
    assert loaded.preset_.model.hidden_dim == "auto"
    pd.testing.assert_frame_equal(loaded.transform(frame), imp.transform(frame))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(preset="nope"), "preset"),
        (dict(preset={"name": "fast"}), "preset"),
        (dict(num_steps=0), "num_steps"),
        (dict(lr=-1.0), "lr"),
        (dict(device="cuda:7"), "CUDA"),
    ],
)
def test_bad_parameters_are_reported(mixed, params, match):
    _, masked, _ = mixed
    if match == "CUDA" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match=match):
        DiffPuterImputer(**{**TINY, **params}).fit(masked)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU", "meta", ""])
def test_unknown_device_strings_are_refused_with_the_valid_ones(mixed, device):
    _, masked, _ = mixed
    match = r"device=.* is not a device diffputer knows; use one of 'auto', 'cpu', 'cuda', 'cuda:N'"
    with pytest.raises(ValueError, match=match):
        DiffPuterImputer(**{**TINY, "device": device}).fit(masked)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is available here")
def test_mps_without_mps_is_refused_clearly(mixed):
    _, masked, _ = mixed
    with pytest.raises(ValueError, match="device='mps' was requested but MPS is not available"):
        DiffPuterImputer(**{**TINY, "device": "mps"}).fit(masked)


def test_cuda_index_past_the_devices_is_refused(monkeypatch):
    from diffputer._imputer import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"device='cuda:2' .* has 2 CUDA device\(s\)"):
        resolve_device("cuda:2")


def test_transform_before_fit_raises(mixed):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DiffPuterImputer().transform(mixed[1])


def test_unseen_category_is_kept_and_warned(mixed):
    _, masked, _ = mixed
    imp = DiffPuterImputer(**TINY).fit(masked)
    new = masked.copy()
    new["obj"] = new["obj"].astype(object)
    new.iloc[1, new.columns.get_loc("obj")] = "brand-new"
    with pytest.warns(UserWarning, match="not seen in training"):
        out = imp.transform(new)
    assert out["obj"].iloc[1] == "brand-new"
    assert not out.isna().any().any()


def test_verbose_zero_prints_nothing(mixed, capsys):
    _, masked, _ = mixed
    DiffPuterImputer(**TINY).fit_transform(masked)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_two_prints_a_line_per_iteration(mixed, capsys):
    _, masked, _ = mixed
    DiffPuterImputer(**{**TINY, "verbose": 2}).fit_transform(masked)
    err = capsys.readouterr().err
    assert err.count("EM iteration") == 2


def test_bf16_sampling_runs_and_stays_close_to_fp32(mixed):
    """bf16 autocast (where the CPU has native bf16; else float32) changes little."""
    _, masked, _ = mixed
    base = dict(TINY, n_em_iter=1, max_epochs=20)
    fp32 = DiffPuterImputer(**base).fit(masked)
    out32 = fp32.transform(masked)
    fp32.preset_ = fp32.preset_.replace(sample_precision="bf16")
    out16 = fp32.transform(masked)
    assert not out16.isna().any().any()
    diff = (out16["a"] - out32["a"]).abs().max()
    assert diff < 0.1 * masked["a"].std()


def test_autocast_dtype_only_when_asked():
    from diffputer._em import autocast_dtype

    assert autocast_dtype("fp32", torch.device("cpu")) is None
    assert autocast_dtype("bf16", torch.device("cpu")) in (None, torch.bfloat16)


def test_bf16_on_a_gpu_only_where_it_is_native(monkeypatch):
    """Ampere (compute capability 8.0) and later run bf16 natively; torch emulates it on
    older GPUs (T4, V100), where it would be slower than fp32: fp32 there. Which GPU is
    asked about is the device's own (cuda:1, not the current one)."""
    from diffputer._em import autocast_dtype

    asked, gpu = [], {}

    def capability(device=None):
        asked.append(device)
        return gpu["major"], 0

    monkeypatch.setattr(torch.cuda, "get_device_capability", capability)
    for major, expected in ((7, None), (8, torch.bfloat16), (9, torch.bfloat16)):
        gpu["major"] = major
        assert autocast_dtype("bf16", torch.device("cuda", 1)) is expected
        assert autocast_dtype("fp32", torch.device("cuda", 1)) is None
    assert asked == [torch.device("cuda", 1)] * 3


def spy_on_e_steps(monkeypatch) -> list[dict]:
    """The keyword arguments of every ``posterior_mean`` call the E-steps make, in order."""
    import diffputer._em as em

    calls = []
    original = em.posterior_mean

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(em, "posterior_mean", spy)
    return calls


@pytest.mark.skipif(TINY["device"] != "cpu", reason="the CPU's default (one chunk on a GPU)")
def test_e_steps_sample_one_chunk_per_torch_thread_on_cpu_unless_told(mixed, monkeypatch):
    """Every E-step (fit's and transform's) samples ``eval_workers`` chunks at once: by
    default one per torch thread on a CPU, at most MAX_DEFAULT_WORKERS; a preset's
    count wins. The count changes nothing in the result (tests/test_diffusion.py)."""
    from diffputer._em import MAX_DEFAULT_WORKERS, sampling_workers

    _, masked, _ = mixed
    recorded = spy_on_e_steps(monkeypatch)
    imp = DiffPuterImputer(**TINY).fit(masked)
    imp.transform(masked)
    default = sampling_workers(get_preset("fast").sampler, torch.device("cpu"))
    assert default == min(torch.get_num_threads(), MAX_DEFAULT_WORKERS)  # up to the cap
    assert recorded and {kw["workers"] for kw in recorded} == {default}
    fast = get_preset("fast").sampler
    assert fast.eval_workers is None and get_preset("paper").sampler.eval_workers is None
    three = dataclasses.replace(fast, eval_workers=3)
    assert sampling_workers(three, torch.device("cpu")) == 3
    # many cores: no more chunks in flight than the cap (memory), unless told
    threads = torch.get_num_threads()
    try:
        # threads -> chunks at once (each on threads // chunks threads), cap 4
        for n, chunks in {1: 1, 2: 2, 4: 4, 6: 3, 8: 4, 9: 3, 64: 4}.items():
            torch.set_num_threads(n)
            assert sampling_workers(fast, torch.device("cpu")) == chunks, n
        big = dataclasses.replace(fast, eval_workers=MAX_DEFAULT_WORKERS + 2)
        assert sampling_workers(big, torch.device("cpu")) == MAX_DEFAULT_WORKERS + 2
    finally:
        torch.set_num_threads(threads)
    assert sampling_workers(fast, torch.device("cuda")) == 1
    recorded.clear()
    DiffPuterImputer(**TINY, preset=get_preset("fast").replace(eval_workers=2)).fit(masked)
    assert recorded and {kw["workers"] for kw in recorded} == {2}


def test_e_step_chunks_are_larger_on_a_gpu_unless_told(mixed, monkeypatch):
    """``eval_batch_size`` (rows x samples per network call): 4,096 on a CPU and 65,536
    on a GPU by default, a preset's value on either; every E-step passes it on."""
    from diffputer._em import CPU_EVAL_BATCH, GPU_EVAL_BATCH, eval_batch_size

    fast, paper = get_preset("fast").sampler, get_preset("paper").sampler
    assert fast.eval_batch_size is None and paper.eval_batch_size is None
    assert (CPU_EVAL_BATCH, GPU_EVAL_BATCH) == (4096, 65_536)
    assert eval_batch_size(paper, torch.device("cpu")) == 4096
    assert eval_batch_size(paper, torch.device("cuda")) == 65_536
    mine = dataclasses.replace(paper, eval_batch_size=1000)
    assert eval_batch_size(mine, torch.device("cpu")) == 1000
    assert eval_batch_size(mine, torch.device("cuda")) == 1000
    with pytest.raises(ValueError, match="eval_batch_size"):
        get_preset("fast").replace(eval_batch_size=0)
    _, masked, _ = mixed
    recorded = spy_on_e_steps(monkeypatch)
    DiffPuterImputer(**TINY).fit(masked).transform(masked)
    default = eval_batch_size(paper, torch.device(TINY["device"]))
    assert recorded and {kw["batch_size"] for kw in recorded} == {default}
    recorded.clear()
    DiffPuterImputer(**TINY, preset=get_preset("fast").replace(eval_batch_size=64)).fit(masked)
    assert recorded and {kw["batch_size"] for kw in recorded} == {64}


def test_only_the_returned_imputations_use_the_final_sampler_settings(mixed, monkeypatch):
    """E-steps inside EM average ``num_samples`` samples (the M-step fits the posterior
    mean); the last E-step of fit and transform draw ``final_num_samples`` and combine
    numeric cells by ``aggregate``, one-hot columns by the mean."""
    _, masked, _ = mixed
    recorded = spy_on_e_steps(monkeypatch)
    imp = DiffPuterImputer(**{**TINY, "n_em_iter": 3, "final_num_samples": 5})
    imp.set_params(aggregate="median").fit_transform(masked)
    imp.transform(masked)
    calls = [(kw["num_samples"], kw["aggregate"], kw["median_columns"]) for kw in recorded]
    assert [c[:2] for c in calls] == [(2, "mean"), (2, "mean"), (5, "median"), (5, "median")]
    numeric = calls[-1][2].cpu().numpy()
    assert numeric.tolist() == imp.encoder_.numeric_columns().tolist()
    widths = [c.width if c.kind == "numeric" else 0 for c in imp.encoder_.columns_]
    assert 0 < numeric.sum() == sum(widths) < len(numeric)  # one-hot columns excluded
    # the paper's preset leaves them unset: every E-step is the same
    p = get_preset("paper").sampler
    assert p.final_num_samples is None and p.aggregate == "mean"
