"""The paper's strongest competitors: ReMasker, MissDiff, MOT, TDM, GAIN, MIWAE (here, in
torch) and HyperImpute, MIRACLE (in an isolated environment).

Every method runs on a small table with strong structure at a tiny budget and must beat
the mean fill clearly; the building blocks are checked against quantities known in
closed form; the isolated-environment mechanism is tested with a stand-in interpreter,
and against the real environment in a slow test.
"""

from __future__ import annotations

import json
import math
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

import diffputer._em as em_module
import diffputer.bench.baselines._missdiff as missdiff_module
from diffputer.bench.baselines import (
    BinaryCodec,
    HyperImputeBaseline,
    InSampleOnlyError,
    IsolatedEnvironmentError,
    IsolatedMethodError,
    MeanFillError,
    MIRACLEBaseline,
    OneHotCodec,
    available,
    check_spec,
    label,
    make,
    registered,
    supports_out_of_sample,
    unavailable,
)
from diffputer.bench.baselines._isolated import ENV_VARIABLE, WORKER, environment_problem
from diffputer.bench.baselines._missdiff import MissDiffBaseline
from diffputer.bench.baselines._miwae import _DLVM
from diffputer.bench.baselines._ot import pick_epsilon, sinkhorn_divergence
from diffputer.bench.baselines._remasker import ReMaskerBaseline, _MaskedAutoencoder, _remask
from diffputer.bench.baselines._tdm import exact_ot
from diffputer.bench.masks import mcar
from diffputer.bench.metrics import ZScale, score_imputation
from diffputer.config import get_preset

from .conftest import make_structured

# Tiny budgets (a few seconds at most each) at which each method already learns the
# structure; the defaults are the authors' (docs/baselines.md).
SPECS = {
    "remasker": "remasker:embed_dim=16:depth=2:decoder_depth=1:num_heads=2:max_epochs=150"
    ":warmup_epochs=5:lr=3e-3:batch_size=32:device=cpu",
    "remasker-onehot": "remasker:embed_dim=16:depth=2:decoder_depth=1:num_heads=2:max_epochs=150"
    ":warmup_epochs=5:lr=3e-3:batch_size=32:categorical_encoding=onehot:device=cpu",
    "missdiff": "missdiff:hidden_dim=64:max_epochs=150:patience=150:num_steps=10"
    ":resample_repeats=2:num_samples=4:device=cpu",
    "mot": "mot:n_iter=300:device=cpu",
    "mot-mlp": "mot:variant=mlp:max_iter=3:n_inner=3:n_pairs=2:device=cpu",
    "tdm": "tdm:n_iter=600:device=cpu",
    "gain": "gain:n_iter=1000:device=cpu",
    "miwae": "miwae:n_epochs=40:n_impute_samples=200:device=cpu",
}
IN_SAMPLE_ONLY = {"mot", "tdm"}
# Budgets at which a fit takes well under a second (seeding and bookkeeping checks).
MICRO = {
    "remasker": "remasker:embed_dim=8:depth=1:decoder_depth=1:num_heads=2:max_epochs=2:device=cpu",
    "missdiff": "missdiff:hidden_dim=16:max_epochs=3:num_steps=3:resample_repeats=1"
    ":num_samples=2:device=cpu",
    "mot": "mot:n_iter=5:device=cpu",
    "mot-linear": "mot:variant=linear:max_iter=1:n_inner=1:n_pairs=1:device=cpu",
    "tdm": "tdm:n_iter=5:device=cpu",
    "gain": "gain:n_iter=20:device=cpu",
    "miwae": "miwae:n_epochs=2:n_impute_samples=10:device=cpu",
}


@pytest.fixture(scope="module")
def table():
    """A structured table, 300 training and 100 new rows, MCAR 30%."""
    ds = make_structured(400, seed=2)
    mask = mcar(ds.frame, 0.3, np.random.default_rng(1))
    masked = ds.frame.mask(mask)
    return ds, mask, masked.iloc[:300], masked.iloc[300:].reset_index(drop=True)


def _score(ds, truth, out, hidden, scale):
    return score_imputation(
        truth, out, hidden, numeric=ds.numeric, categorical=ds.categorical, scale=scale
    )


@pytest.fixture(scope="module")
def scores(table):
    """Fit each method once (lazily); in-sample and out-of-sample outputs and scores."""
    ds, mask, train, test = table
    scale = ZScale.fit(train, ds.numeric)
    truth_tr, truth_te = ds.frame.iloc[:300], ds.frame.iloc[300:].reset_index(drop=True)
    cache = {}

    def get(name):
        if name not in cache:
            spec = "mean" if name == "mean" else SPECS[name]
            imputer = make(spec, random_state=0)
            result = {"in": imputer.fit_transform(train)}
            result["in_score"] = _score(ds, truth_tr, result["in"], mask[:300], scale)
            if supports_out_of_sample(imputer):
                result["out"] = imputer.transform(test)
                result["out_score"] = _score(ds, truth_te, result["out"], mask[300:], scale)
            result["imputer"] = imputer
            cache[name] = result
        return cache[name]

    return get


def _check_table(given: pd.DataFrame, out: pd.DataFrame, train: pd.DataFrame, ds) -> None:
    assert not out.isna().any().any()
    assert out.index.equals(given.index) and list(out.columns) == list(given.columns)
    assert (out.dtypes == given.dtypes).all()
    observed = given.notna().to_numpy()
    for j, col in enumerate(given.columns):
        kept = out[col].to_numpy(dtype=object)[observed[:, j]]
        assert (kept == given[col].to_numpy(dtype=object)[observed[:, j]]).all(), col
    for col in ds.categorical:
        assert set(out[col]) <= set(train[col].dropna())


# ---------------------------------------------------------------------- registry
def test_the_competitors_are_registered():
    names = ["remasker", "missdiff", "mot", "tdm", "gain", "miwae", "hyperimpute", "miracle"]
    assert registered()[-len(names) :] == names
    assert [label(n) for n in names] == [
        "ReMasker", "MissDiff", "MOT", "TDM", "GAIN", "MIWAE", "HyperImpute", "MIRACLE",
    ]  # fmt: skip
    for name in names:
        make(f"{name}:python={sys.executable}" if name in ("hyperimpute", "miracle") else name)


def test_a_missing_isolated_environment_is_reported_and_refused(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VARIABLE, str(tmp_path / "nowhere"))
    missing = unavailable()
    assert set(missing) == {"hyperimpute", "miracle"}
    assert "make_hyperimpute_env.sh" in missing["hyperimpute"]
    assert "hyperimpute" not in available() and "remasker" in available()
    with pytest.raises(IsolatedEnvironmentError, match="unavailable.*make_hyperimpute_env"):
        make("hyperimpute")
    with pytest.raises(IsolatedEnvironmentError):
        check_spec("miracle:max_steps=10")
    # an explicit interpreter overrides the default location
    assert make(f"miracle:python={sys.executable}").python == sys.executable


# ---------------------------------------------------------------------- every method
@pytest.mark.parametrize("name", list(SPECS))
def test_keeps_the_table_and_beats_the_mean_fill(table, scores, name):
    ds, mask, train, test = table
    got, mean = scores(name), scores("mean")
    _check_table(train, got["in"], train, ds)
    # four numeric columns driven by two factors: the mean fill's error must drop clearly
    assert got["in_score"]["mae"] < 0.9 * mean["in_score"]["mae"], got["in_score"]
    if name in IN_SAMPLE_ONLY:
        assert "out" not in got
        with pytest.raises(InSampleOnlyError, match="in-sample"):
            got["imputer"].transform(test)
    else:
        _check_table(test, got["out"], train, ds)
        assert got["out_score"]["mae"] < 0.9 * mean["out_score"]["mae"], got["out_score"]


@pytest.mark.parametrize("name", list(MICRO))
def test_seeded_and_leaves_global_random_state_alone(table, name):
    _, _, train, test = table
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    a = make(MICRO[name], random_state=3).fit_transform(train)
    b = make(MICRO[name], random_state=3).fit_transform(train)
    pd.testing.assert_frame_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == numpy_state[1].tolist()
    imputer = make(MICRO[name], random_state=3).fit(train)
    if supports_out_of_sample(imputer):  # transform is repeatable
        pd.testing.assert_frame_equal(imputer.transform(test), imputer.transform(test))


@pytest.mark.parametrize("name", list(MICRO))
def test_awkward_tables(name):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=24), "b": rng.normal(size=24), "c": pd.Categorical(list("xy") * 12)}
    )
    spec = MICRO[name].replace("num_heads=2", "num_heads=1")
    # nothing missing: the table comes back equal
    pd.testing.assert_frame_equal(make(spec, random_state=0).fit_transform(frame), frame)
    # a row with every cell missing, and a one-column table
    holes = frame.copy()
    holes.iloc[3, :] = np.nan
    holes.iloc[5, 0] = np.nan
    one = frame[["a"]].mask(rng.random((24, 1)) < 0.3)
    for given in (holes, one):
        imputer = make(spec, random_state=0)
        assert not imputer.fit_transform(given).isna().any().any()
        if supports_out_of_sample(imputer):
            assert not imputer.transform(given).isna().any().any()


# ---------------------------------------------------------------------- MissDiff
def test_missdiff_trains_once_on_observed_cells_and_samples_once(table, monkeypatch):
    _, _, train, _ = table
    calls = {"train": [], "e_step": 0}
    real_train, real_e_step = em_module.train_denoiser, missdiff_module.e_step

    def spy_train(net, data, **kwargs):
        calls["train"].append((data, kwargs["weight"], kwargs.get("val_weight")))
        return real_train(net, data, **kwargs)

    def spy_e_step(*args, **kwargs):
        calls["e_step"] += 1
        return real_e_step(*args, **kwargs)

    monkeypatch.setattr(em_module, "train_denoiser", spy_train)  # what the M-step calls
    monkeypatch.setattr(missdiff_module, "e_step", spy_e_step)
    make(MICRO["missdiff"], random_state=0).fit_transform(train)
    assert len(calls["train"]) == 1 and calls["e_step"] == 1  # no EM
    data, weight, val_weight = calls["train"][0]
    # weight 0 exactly on the missing cells, which sit at the mean fill (0)
    assert torch.equal(weight == 0, data == 0) and bool((weight == 0).any())
    if val_weight is not None:  # presets that hold out rows score them on observed cells
        assert set(val_weight.unique().tolist()) <= {0.0, 1.0}


def test_missdiff_takes_diffputer_presets():
    paper = make("missdiff:preset=paper")._settings()
    assert paper.model.hidden_dim == 1024 and paper.sampler.resample_repeats == 20
    assert make("missdiff:preset=fast:hidden_dim=32")._settings().model.hidden_dim == 32
    # trained as measured for MissDiff: the preset's wide settings at every width, fp32
    fast = make("missdiff:preset=fast")._settings()
    assert fast.narrow_train is None and fast.train.train_precision == "fp32"
    assert fast.train.batch_size == get_preset("fast").train.batch_size


def test_missdiff_takes_every_override_of_the_imputer_but_the_em_loops():
    from diffputer._imputer import OVERRIDES

    params = set(MissDiffBaseline().get_params())
    assert params >= set(OVERRIDES) - {"n_em_iter", "warm_start"}
    assert not params & {"n_em_iter", "warm_start"}
    settings = make("missdiff:ema_decay=0:aggregate=median:rows_per_m_step=0")._settings()
    assert (settings.train.ema_decay, settings.sampler.aggregate) == (0, "median")
    with pytest.raises(ValueError, match="ema_decay"):
        MissDiffBaseline(ema_decay=1.0).fit_transform(pd.DataFrame({"a": [1.0, None, 3.0]}))


def test_missdiff_encodes_as_its_preset():
    """The fast preset's numeric_transform="auto" maps a zero-inflated count for MissDiff too."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"count": np.where(rng.random(300) < 0.6, 0.0, rng.integers(1, 6, 300)),
         "x": rng.normal(size=300)}
    )  # fmt: skip
    frame.loc[rng.random(300) < 0.2, "count"] = np.nan
    micro = MICRO["missdiff"]
    for transform, mapped in [(None, True), ("standard", False)]:
        spec = micro if transform is None else f"{micro}:numeric_transform={transform}"
        m = make(spec, random_state=0)
        out = m.fit_transform(frame)
        encoder = m.codec_.encoder
        assert encoder.numeric_transform == (transform or m.preset_.encoding.numeric_transform)
        assert (encoder.columns_[0].quantiles is not None) == mapped
        assert out["count"].notna().all()


# ---------------------------------------------------------------------- ReMasker
def test_remasking_keeps_a_fixed_share_of_observed_cells():
    observed = torch.rand(500, 10, generator=torch.Generator().manual_seed(0)) > 0.3
    visible = _remask(observed, 0.5, torch.Generator().manual_seed(1))
    assert not (visible & ~observed).any()  # a missing cell is never shown
    expected = torch.clamp(observed.sum(1), max=5)  # floor(10 * (1 - 0.5))
    assert torch.equal(visible.sum(1), expected)


def _masked_full_sequence(model, u, visible):
    """ReMasker's forward with every token kept and the hidden ones masked out of attention."""
    h = model.embed(u.unsqueeze(-1)) + model.pos[:, 1:]
    h = torch.cat([(model.cls_token + model.pos[:, :1]).expand(len(u), -1, -1), h], dim=1)
    hidden = torch.cat([torch.zeros_like(visible[:, :1]), ~visible], dim=1)
    for block in model.encoder:
        h = block(h, src_key_padding_mask=hidden)
    h = model.decoder_embed(model.norm(h))
    h = torch.where(~hidden.unsqueeze(-1), h, model.mask_token) + model.pos
    for block in model.decoder:
        h = block(h)
    return torch.tanh(model.head(model.decoder_norm(h))[:, 1:, 0]) / 2 + 0.5


@pytest.mark.parametrize("training", [True, False])
def test_remasker_encoder_sees_the_visible_cells_only(training):
    g = torch.Generator().manual_seed(0)
    model = _MaskedAutoencoder(7, dim=16, depth=2, dec_depth=1, heads=2, mlp=2.0).train(training)
    u = torch.rand(40, 7, generator=g)
    observed = torch.rand(40, 7, generator=g) > 0.3
    observed[0] = False  # a row with nothing observed
    observed[1] = True
    for visible in [observed, _remask(observed, 0.5, g)]:  # imputation, training batch
        with torch.no_grad():
            got = model(u, visible)
            # dropping the hidden tokens is masking them out of attention (as MAE)
            assert torch.allclose(got, _masked_full_sequence(model, u, visible), atol=1e-5)
            # so a hidden value changes nothing
            assert torch.equal(got, model(torch.where(visible, u, 1 - u), visible))
    u.requires_grad_(True)
    model(u, observed).sum().backward()
    assert u.grad[~observed].abs().max() == 0 and u.grad[observed].abs().max() > 0


def test_remasker_learning_rate_schedule():
    r = ReMaskerBaseline(lr=1e-3, min_lr=1e-5, warmup_epochs=40, max_epochs=600)
    assert r._lr_at(0) == 0 and r._lr_at(20) == pytest.approx(5e-4)
    assert r._lr_at(40) == pytest.approx(1e-3) and r._lr_at(600) == pytest.approx(1e-5)
    assert r._lr_at(320) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)


def test_binary_codec_digits_and_decoding(table):
    ds, mask, train, _ = table
    codec = BinaryCodec().fit(train)
    x = codec.encode(train)
    # x1, x2, colour (2 categories: 1 digit), x3, x4, size (3 categories: 2 digits)
    assert x.shape == (300, 7) and codec.slices[5] == slice(5, 7)
    onehot = OneHotCodec().fit(train).encode(train)  # colour 2 columns, size 3
    np.testing.assert_array_equal(x[:, [0, 1, 3, 4]], onehot[:, [0, 1, 4, 5]])
    for j, cols in enumerate(codec.slices):
        assert (np.isnan(x[:, cols]).all(axis=1) == mask[:300, j]).all()
    digits = x[:, 5:7][~mask[:300, 5]]
    assert set(map(tuple, digits)) == {(0, 0), (0, 1), (1, 0)}  # no code 3
    # the true digits decode to the true categories
    truth = ds.frame.iloc[:300]
    out = codec.decode(train, codec.encode(truth))
    pd.testing.assert_frame_equal(out, truth)
    # predictions: rounded at 0.5 where that is a valid code, else the nearest valid code
    size = codec.encoder.columns_[5].categories
    guess = np.nan_to_num(x.copy())
    guess[:, 5:7] = [0.2, 0.7]  # rounds to 01: code 1
    assert (codec.decode(train, guess).loc[mask[:300, 5], "size"] == size[1]).all()
    guess[:, 5:7] = [0.9, 0.8]  # rounds to 11, not a code; nearest valid: 10 (code 2)
    assert (codec.decode(train, guess).loc[mask[:300, 5], "size"] == size[2]).all()
    guess[:, 5:7] = np.nan  # non-finite digits fall back to the mode, with a warning
    with pytest.warns(UserWarning, match="non-finite"):
        out = codec.decode(train, guess)
    assert (out.loc[mask[:300, 5], "size"] == train["size"].mode()[0]).all()


def test_binary_codec_gives_a_single_category_no_digit():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=30),
            "k": pd.Categorical(["z"] * 30),
            "c": pd.Categorical(list("xyz") * 10),
        }
    ).mask(rng.random((30, 3)) < 0.3)
    codec = BinaryCodec().fit(frame)
    assert codec.encode(frame).shape == (30, 3)  # a, no digit for k, two for c
    out = codec.decode(frame, np.zeros((30, 3)))
    assert (out["k"] == "z").all() and (out.loc[frame["c"].isna(), "c"] == "x").all()


@pytest.mark.parametrize(
    ("name", "tokens"),
    [("remasker", 7), ("remasker-onehot", 9)],  # 4 numbers + 1 + 2 or 2 + 3
)
def test_remasker_tokens_and_categories(scores, name, tokens):
    got, mean = scores(name), scores("mean")
    assert got["imputer"].model_.pos.shape[1] == tokens + 1  # and the class token
    assert got["in_score"]["acc"] > mean["in_score"]["acc"] + 0.1, got["in_score"]
    assert got["out_score"]["acc"] > mean["out_score"]["acc"] + 0.1, got["out_score"]


def _miwae_reference(model: _DLVM, x, m, k):
    """The importance weights as torch.distributions computes them (the notebook's way)."""
    import torch.distributions as td

    out = model.encoder(x)
    q = td.Independent(
        td.Normal(out[:, : model.d], torch.nn.functional.softplus(out[:, model.d :])), 1
    )
    z = q.rsample((k,))
    dec, p = model.decoder(z), model.p
    px = td.StudentT(
        loc=dec[..., :p],
        scale=torch.nn.functional.softplus(dec[..., p : 2 * p]) + 1e-3,
        df=torch.nn.functional.softplus(dec[..., 2 * p :]) + 3.0,
    )
    prior = td.Independent(td.Normal(torch.zeros_like(z), torch.ones_like(z)), 1)
    log_w = (px.log_prob(x.expand(k, -1, -1)) * m).sum(-1) + prior.log_prob(z) - q.log_prob(z)
    return log_w, px.mean


def test_miwae_weights_are_the_distributions_densities():
    torch.manual_seed(0)
    model = _DLVM(p=7, latent_dim=3, hidden=16)
    m = (torch.rand(5, 7) > 0.3).float()
    x = torch.randn(5, 7) * 3 * m
    got, got_mean = [], []
    for fn in (_DLVM.log_weights, _miwae_reference):
        model.zero_grad()
        with torch.random.fork_rng():
            torch.manual_seed(1)  # the same draws of z
            log_w, mean = fn(model, x, m, 4)
        torch.logsumexp(log_w, 0).mean().backward()
        got.append((log_w.detach(), [p.grad.clone() for p in model.parameters()]))
        got_mean.append(mean.detach())
    (w_new, g_new), (w_ref, g_ref) = got
    assert w_new.shape == (4, 5) and torch.allclose(w_new, w_ref, rtol=1e-5, atol=1e-4)
    assert torch.allclose(got_mean[0], got_mean[1])
    for a, b in zip(g_new, g_ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- OT losses
def test_sinkhorn_divergence_of_a_translation_is_half_its_squared_length():
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    shift = torch.tensor([1.0, -0.5, 0.25], dtype=torch.float64)
    # debiased, quadratic cost: S(a, a + s) = |s|^2 / 2 exactly, whatever the blur
    got = sinkhorn_divergence(x, x + shift, blur=0.3)
    assert float(got) == pytest.approx(float(shift @ shift) / 2, abs=1e-6)
    assert float(sinkhorn_divergence(x, x.flip(0), blur=0.3)) == pytest.approx(0, abs=1e-9)
    y = (x + shift).requires_grad_(True)
    sinkhorn_divergence(x, y, blur=0.3).backward()
    # the gradient (geomloss's: each dual term through its own cloud) is s / m per point
    assert torch.allclose(y.grad, shift.expand_as(y) / len(y), atol=1e-6)


def test_exact_ot_is_an_assignment():
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    perm = torch.randperm(32, generator=torch.Generator().manual_seed(1))
    assert float(exact_ot(x, x[perm])) == pytest.approx(0, abs=1e-6)
    assert float(exact_ot(x, x + torch.tensor([3.0, 4.0], dtype=torch.float64))) == (
        pytest.approx(5.0)
    )


def test_pick_epsilon_is_a_twentieth_of_the_median_halved_squared_distance():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [np.nan, 1.0]])
    eps = pick_epsilon(x, np.random.default_rng(0))
    filled = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    d = ((filled[:, None] - filled[None]) ** 2).sum(-1) / 2
    d = np.sort(d[d > 0])
    assert eps == pytest.approx(0.05 * d[int(0.5 * len(d)) - 1])


# ---------------------------------------------------------------------- isolated methods
FAKE_WORKER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    mode = sys.argv[1]
    folder = Path(sys.argv[sys.argv.index("--request") + 1])
    request = json.loads((folder / "request.json").read_text())
    (folder / "seen.json").write_text(json.dumps({"argv": sys.argv, "request": request}))
    if mode == "fail":
        print("noise from the library", file=sys.stderr)
        print("ValueError: boom", file=sys.stderr)
        sys.exit(1)
    x = np.load(folder / "x.npy")
    fill = np.nanmean(x, axis=0) + (0.5 if mode == "ok" else 0.0)
    np.save(folder / "imputed.npy", np.where(np.isnan(x), fill, x))
    (folder / "info.json").write_text(json.dumps({"seconds": 0.1, "versions": {"numpy": "x"}}))
    """
)


def _fake_python(tmp_path, mode: str) -> str:
    """An interpreter stand-in: runs FAKE_WORKER (with ``mode``) instead of the worker."""
    (tmp_path / "fake_worker.py").write_text(FAKE_WORKER)
    script = tmp_path / f"python-{mode}"
    script.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{tmp_path / "fake_worker.py"}" {mode} "$@"\n'
    )
    script.chmod(0o755)
    return str(script)


def test_isolated_method_exchanges_files_with_its_interpreter(table, tmp_path):
    _, _, train, _ = table
    imputer = HyperImputeBaseline(python=_fake_python(tmp_path, "ok"), random_state=0)
    out = imputer.fit_transform(train)
    assert not out.isna().any().any()
    hole = train["x1"].isna()
    # the stand-in filled mean + 0.5 in z units: decoded, the mean plus half a std
    expected = train["x1"].mean() + 0.5 * train["x1"].std(ddof=0)
    assert np.allclose(out.loc[hole, "x1"], expected)
    assert imputer.versions_ == {"numpy": "x"} and imputer.worker_seconds_ == 0.1
    assert not supports_out_of_sample(imputer)


def test_isolated_method_refuses_the_mean_fill(table, tmp_path):
    _, _, train, _ = table
    fake = _fake_python(tmp_path, "mean")
    with pytest.raises(MeanFillError, match="mean fill"):
        HyperImputeBaseline(python=fake).fit_transform(train)
    with pytest.warns(RuntimeWarning, match="mean fill"):
        out = HyperImputeBaseline(python=fake, allow_mean_fill=True).fit_transform(train)
    assert not out.isna().any().any()


def test_isolated_method_reports_the_worker_error(table, tmp_path):
    _, _, train, _ = table
    imputer = MIRACLEBaseline(python=_fake_python(tmp_path, "fail"), batch_size=64)
    with pytest.raises(IsolatedMethodError, match="miracle failed .*ValueError: boom"):
        imputer.fit_transform(train)


def test_isolated_request_carries_method_parameters_and_seed(table, tmp_path, monkeypatch):
    _, _, train, _ = table
    seen = {}
    real_run = HyperImputeBaseline._run_worker

    def spy(self, folder):
        real_run(self, folder)
        seen.update(json.loads((folder / "seen.json").read_text()))

    monkeypatch.setattr(HyperImputeBaseline, "_run_worker", spy)
    HyperImputeBaseline(python=_fake_python(tmp_path, "ok"), n_inner_iter=7, random_state=1).fit(
        train
    )
    assert seen["argv"][2:4] == ["-I", str(WORKER)]  # isolated mode, the shipped worker
    request = seen["request"]
    assert request["method"] == "hyperimpute" and request["params"]["n_inner_iter"] == 7
    assert isinstance(request["seed"], int)


def test_miracle_refuses_tables_it_would_not_train_on(table):
    _, _, train, _ = table
    with pytest.raises(ValueError, match="2 \\* batch_size"):
        MIRACLEBaseline(python=sys.executable).fit_transform(train)  # 300 rows < 2048


def test_the_worker_never_imports_diffputer():
    imports = [
        line
        for line in WORKER.read_text().splitlines()
        if line.strip().startswith(("import ", "from "))
    ]
    assert imports and not any("diffputer" in line for line in imports)


@pytest.mark.slow
@pytest.mark.skipif(
    environment_problem() is not None,
    reason=f"{environment_problem()}",
)
def test_hyperimpute_and_miracle_in_the_real_environment(table):
    ds, mask, train, _ = table
    scale = ZScale.fit(train, ds.numeric)
    truth = ds.frame.iloc[:300]
    mean = _score(ds, truth, make("mean").fit_transform(train), mask[:300], scale)
    for spec in ("hyperimpute", "miracle:batch_size=64"):
        imputer = make(spec, random_state=0)
        out = imputer.fit_transform(train)  # refuses the mean fill by itself
        _check_table(train, out, train, ds)
        got = _score(ds, truth, out, mask[:300], scale)
        assert got["mae"] < 0.9 * mean["mae"], (spec, got, mean)
        assert imputer.versions_["hyperimpute"] == "0.1.17"
        assert imputer.versions_["numpy"].startswith("1.26")
    assert math.isfinite(imputer.worker_seconds_)


GEOMLOSS_SNIPPET = """
import sys, numpy as np, torch
from geomloss import SamplesLoss
x, y = (torch.tensor(a, requires_grad=True) for a in np.load(sys.argv[1]))
v = SamplesLoss("sinkhorn", p=2, blur=0.45, scaling=0.9, backend="tensorized")(x, y)
v.backward()
np.save(sys.argv[2], np.concatenate([[v.item()], x.grad.numpy().ravel(), y.grad.numpy().ravel()]))
"""


@pytest.mark.slow
@pytest.mark.skipif(environment_problem() is not None, reason=f"{environment_problem()}")
def test_sinkhorn_divergence_matches_geomloss(tmp_path):
    # the isolated environment has geomloss (hyperimpute's Sinkhorn plugin uses it)
    import subprocess

    from diffputer.bench.baselines._isolated import interpreter

    rng = np.random.default_rng(5)
    clouds = np.stack([rng.normal(size=(128, 9)), 1.3 * rng.normal(size=(128, 9)) + 0.2])
    np.save(tmp_path / "xy.npy", clouds)
    (tmp_path / "geo.py").write_text(GEOMLOSS_SNIPPET)
    subprocess.run(
        [str(interpreter()), "-I", str(tmp_path / "geo.py"), str(tmp_path / "xy.npy"),
         str(tmp_path / "out.npy")],
        check=True, capture_output=True,
    )  # fmt: skip
    x, y = (torch.tensor(a, requires_grad=True) for a in clouds)
    value = sinkhorn_divergence(x, y, blur=0.45)
    value.backward()
    mine = np.concatenate([[value.item()], x.grad.numpy().ravel(), y.grad.numpy().ravel()])
    assert np.allclose(mine, np.load(tmp_path / "out.npy"), rtol=0, atol=1e-12)
