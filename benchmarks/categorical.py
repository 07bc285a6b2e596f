"""Where the fast preset's categorical accuracy is lost. Prints JSON lines; asserts nothing.

Four experiments on the runner's cell (5,000 rows, 70/30 split, MCAR 30%, mask
``--first-mask``), each fitting the ``fast`` preset with ``random_state`` = the mask
number (or loading ``--model``, a file written by ``DiffPuterImputer.save``):

``samples``
    Draws ``--samples`` single-sample E-steps with the fitted model, for the training
    rows (in-sample) and the test rows (out-of-sample), and scores every categorical
    column's masked cells decoded from the first S draws, S in 1, 4, 16 and all: by the
    argmax of the mean one-hot block (what the estimator does) and by the vote of the
    draws' argmaxes; beside them, the accuracy of filling the observed mode. Tells the
    sampling noise (S) from the model's own error (the limit as S grows).
    ``--numeric day,hour`` fits those categorical columns as numbers instead (their
    lines then score the median of the draws rounded to the nearest category seen in
    training), and ``--set hidden_dim=256`` passes settings to the estimator: whether
    the one-hot blocks of columns the model cannot predict cost the other columns.
``sampler``
    Re-imputes the training and test rows with the fitted model under other settings
    of the sampler (``--variants``: ``;``-separated ``key=value,...`` preset settings,
    an empty one the preset's), with the usual 16 samples: MAE and accuracy. Tells
    whether better conditioning (RePaint repeats at every level, more of them, more
    levels) recovers accuracy from the same model.
``joint``
    Draws ``--rows`` rows with every cell missing (the model's unconditional joint) and
    prints their cross-tabulation of ``--pair A,B`` beside the true training rows';
    then, for the training rows where B is masked and A observed, B's accuracy per
    value of A. Tells a model that has not learnt a dependence from a sampler that
    cannot condition on it.
``baseline``
    Fits a registered baseline (``--method``, a runner method spec; default
    ``missforest``) on the same cell with ``random_state`` = the mask number and prints
    its accuracy on every categorical column's masked cells, beside the observed mode's:
    the per-column yardstick for ``samples``.
``inner-fill``
    Refits with the categorical blocks of the E-steps *inside* EM (not the returned
    ones) replaced, before the next M-step trains on them: ``mean`` (the preset: the
    mean one-hot block of the E-step's samples), ``argmax`` (the one-hot of its
    largest entry) or ``draw`` (a category drawn with the block's mean as
    probabilities). Paired: same seed. This wraps ``diffputer._em.e_step`` in this
    process only; the library has no such option.

    python benchmarks/categorical.py samples adult --save /tmp/adult0.dp
    python benchmarks/categorical.py sampler adult --model /tmp/adult0.dp \\
        --variants ";resample_sigma_max=80;resample_repeats=20;num_steps=50"
    python benchmarks/categorical.py joint adult --model /tmp/adult0.dp --pair relationship,sex
    python benchmarks/categorical.py inner-fill adult --variants mean,argmax,draw
    python benchmarks/categorical.py baseline beijing --method missforest
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import pandas as pd
import torch

import diffputer._em as em
from _cell import load_cell, settings
from diffputer import DiffPuterImputer
from diffputer._encoding import CATEGORICAL, TableEncoder
from diffputer._imputer import _bounds, _median_columns
from diffputer.bench.baselines import InSampleOnlyError, make

SETTINGS = ("in-sample", "out-of-sample")


def _fitted(cell, model: str | None, numeric: list[str], options: dict) -> DiffPuterImputer:
    if model:
        return DiffPuterImputer.load(model)
    categorical = [name for name in cell.categorical if str(name) not in numeric]
    imp = DiffPuterImputer(
        preset="fast", random_state=cell.mask, categorical_columns=categorical, **options
    )
    return imp.fit(cell.masked["in-sample"])


def _draws(imp: DiffPuterImputer, z: np.ndarray, mask: np.ndarray, n: int, **sampler) -> np.ndarray:
    """``n`` single-sample E-steps of ``z`` (scaled space), shape (n, rows, D)."""
    enc, cpu = imp.encoder_, torch.device("cpu")
    config = dataclasses.replace(imp.preset_.sampler, final_num_samples=1, **sampler)
    out = []
    for s in range(n):
        z_s = em.e_step(
            imp.denoiser_,
            torch.from_numpy(z),
            torch.from_numpy(mask),
            config,
            generator=torch.Generator().manual_seed(1000 + s),
            bounds=_bounds(enc, cpu),
            median_columns=_median_columns(enc, cpu),
        )
        out.append(z_s.numpy())
    return np.stack(out)


def _column_line(cell, setting: str, name, hidden: np.ndarray) -> dict:
    """The fields every per-column line starts with: where, how many masked cells, and
    the accuracy of filling them with the column's observed mode."""
    frame, true = cell.masked[setting], cell.truth[setting][name].to_numpy()[hidden]
    mode = frame[name].dropna().value_counts().index[0]
    line = dict(dataset=cell.dataset, mask=cell.mask, setting=setting, column=str(name))
    return line | dict(n=int(hidden.sum()), mode=float(np.mean(true == mode)))


def samples(cell, imp: DiffPuterImputer, n: int) -> None:
    enc = imp.encoder_
    names = list(cell.truth["in-sample"].columns)
    for setting in SETTINGS:
        frame, truth, hidden = cell.masked[setting], cell.truth[setting], cell.hidden[setting]
        draws = enc.unscale(_draws(imp, *enc.transform(frame), n))
        for i, (col, block) in enumerate(zip(enc.columns_, enc.blocks(), strict=True)):
            h = hidden[:, i]
            if not h.any() or names[i] not in cell.categorical:
                continue
            if col.kind != CATEGORICAL:  # a categorical column fitted as numeric
                _rounded(cell, setting, names[i], h, draws[:, h][:, :, block][..., 0], n)
                continue
            cats = np.asarray(col.categories, dtype=object)
            true = truth[names[i]].to_numpy()[h]
            blocks = draws[:, h][:, :, block]  # draws x hidden rows x categories
            line = _column_line(cell, setting, names[i], h) | dict(categories=len(cats))
            for s in sorted({1, 4, 16, n}):
                votes = np.zeros(blocks.shape[1:])
                for picked in blocks[:s].argmax(axis=2):
                    votes[np.arange(len(picked)), picked] += 1
                line[f"mean_{s}"] = float(np.mean(cats[blocks[:s].mean(0).argmax(1)] == true))
                line[f"vote_{s}"] = float(np.mean(cats[votes.argmax(1)] == true))
            print(json.dumps(line), flush=True)


def _rounded(cell, setting: str, name, hidden: np.ndarray, values: np.ndarray, n: int) -> None:
    """A categorical column fitted as a number (``--numeric``): the median of the first S
    draws, rounded to the nearest category observed in the training rows, against the
    truth."""
    cats = np.sort(cell.masked["in-sample"][name].dropna().unique().astype(float))
    true = cell.truth[setting][name].to_numpy()[hidden].astype(float)
    line = _column_line(cell, setting, name, hidden) | dict(categories=len(cats), numeric=True)
    for s in sorted({1, 4, 16, n}):
        median = np.median(values[:s], axis=0)
        nearest = cats[np.abs(median[:, None] - cats[None, :]).argmin(1)]
        line[f"median_{s}"] = float(np.mean(nearest == true))
    print(json.dumps(line), flush=True)


def baseline(cell, method: str) -> None:
    imputer = make(method, random_state=cell.mask)
    filled = {"in-sample": imputer.fit_transform(cell.masked["in-sample"])}
    try:
        filled["out-of-sample"] = imputer.transform(cell.masked["out-of-sample"])
    except InSampleOnlyError:  # HyperImpute, MIRACLE: in-sample lines only
        pass
    names = list(cell.truth["in-sample"].columns)
    for setting, out in filled.items():
        for name in cell.categorical:
            h = cell.hidden[setting][:, names.index(name)]
            if not h.any():
                continue
            true = cell.truth[setting][name].to_numpy()[h]
            line = _column_line(cell, setting, name, h) | dict(method=method)
            line["accuracy"] = float(np.mean(out[name].to_numpy()[h] == true))
            print(json.dumps(line), flush=True)


def joint(cell, imp: DiffPuterImputer, rows: int, pair: list[str]) -> None:
    enc = imp.encoder_
    z = np.zeros((rows, enc.n_encoded), dtype=np.float32)
    drawn = _draws(imp, z, np.ones_like(z, dtype=bool), 1)[0]
    template = cell.masked["in-sample"].iloc[:rows]
    generated = enc.fill(template.mask(np.ones(template.shape, dtype=bool)), drawn)
    truth = cell.truth["in-sample"]
    for name, table in (("model", generated), ("training rows", truth)):
        counts = pd.crosstab(table[pair[0]], table[pair[1]])
        line = dict(dataset=cell.dataset, mask=cell.mask, rows=name, pair=pair)
        print(
            json.dumps(line | dict(counts=counts.to_dict(orient="index")), default=int), flush=True
        )
    a, b = pair
    frame = cell.masked["in-sample"]
    imputed = imp.transform(frame)
    hidden_b = cell.hidden["in-sample"][:, list(frame.columns).index(b)]
    for value, rows in frame[hidden_b].groupby(a).groups.items():
        true, got = truth.loc[rows, b], imputed.loc[rows, b]
        line = dict(dataset=cell.dataset, mask=cell.mask, given=f"{a}={value}", imputed=b)
        print(json.dumps(line | dict(n=len(rows), acc=float((true == got).mean()))), flush=True)


def sampler(cell, imp: DiffPuterImputer, variants: list[str]) -> None:
    preset = imp.preset_
    for variant in variants:
        imp.preset_ = preset.replace(**settings(variant.split(",")))
        start = time.perf_counter()
        for setting in SETTINGS:
            out = imp.transform(cell.masked[setting])
            line = dict(dataset=cell.dataset, mask=cell.mask, variant=variant, setting=setting)
            line |= _score(cell, setting, out) | dict(seconds=round(time.perf_counter() - start))
            print(json.dumps(line), flush=True)
    imp.preset_ = preset


def _score(cell, setting: str, out: pd.DataFrame) -> dict:
    score = cell.score(setting, out)
    return {key: score[key] for key in ("mae", "rmse", "acc")}


def _refill(mode: str, encoder: TableEncoder):
    """``e_step`` with the categorical blocks of the E-steps inside EM replaced."""
    inner = em.e_step

    def e_step(net, z, mask, config, *, generator, final=True, **options):
        out = inner(net, z, mask, config, generator=generator, final=final, **options)
        if final or mode == "mean":
            return out
        std = torch.as_tensor(encoder.std_, dtype=out.dtype, device=out.device)
        mean = torch.as_tensor(encoder.mean_, dtype=out.dtype, device=out.device)
        raw = out / 0.5 * std + mean
        out = out.clone()
        for col, block in zip(encoder.columns_, encoder.blocks(), strict=True):
            rows = mask[:, block.start]
            if col.kind != CATEGORICAL or not rows.any():
                continue
            p = raw[rows][:, block]
            if mode == "argmax":
                picked = p.argmax(1)
            else:
                weights = p.clamp_min(0) + 1e-12
                picked = torch.multinomial(
                    weights / weights.sum(1, keepdim=True), 1, generator=generator
                )[:, 0]
            one_hot = torch.nn.functional.one_hot(picked, p.shape[1]).to(out.dtype)
            part = out[rows]
            part[:, block] = (one_hot - mean[block]) / std[block] * 0.5
            out[rows] = part
        return out

    return e_step


def inner_fill(cell, variants: list[str]) -> None:
    fit_encoder = TableEncoder.fit
    original = em.e_step
    for mode in variants:

        def fit(self, frame, _mode=mode):  # the fitted encoder gives the blocks
            fitted = fit_encoder(self, frame)
            em.e_step = _refill(_mode, fitted)
            return fitted

        TableEncoder.fit = fit
        try:
            imp = DiffPuterImputer(
                preset="fast", random_state=cell.mask, categorical_columns=cell.categorical
            )
            start = time.perf_counter()
            outs = {"in-sample": imp.fit_transform(cell.masked["in-sample"])}
            outs["out-of-sample"] = imp.transform(cell.masked["out-of-sample"])
            seconds = round(time.perf_counter() - start, 1)
        finally:
            TableEncoder.fit, em.e_step = fit_encoder, original
        for setting, out in outs.items():
            line = dict(dataset=cell.dataset, mask=cell.mask, inner_fill=mode, setting=setting)
            line |= _score(cell, setting, out) | dict(seconds=seconds)
            print(json.dumps(line), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", choices=("samples", "sampler", "joint", "inner-fill", "baseline"))
    p.add_argument("dataset")
    p.add_argument("--first-mask", type=int, default=0)
    p.add_argument("--max-rows", type=int, default=5000)
    p.add_argument("--model", help="a saved fit to use instead of fitting (not inner-fill)")
    p.add_argument("--save", help="write the fit here (not inner-fill)")
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--rows", type=int, default=3000)
    p.add_argument("--pair", default="relationship,sex")
    p.add_argument("--method", default="missforest", help="baseline: a runner method spec")
    p.add_argument("--set", default="", help="estimator settings for the fit, e.g. hidden_dim=256")
    p.add_argument(
        "--numeric",
        default="",
        help="samples: comma-separated categorical columns to fit as numbers (decoded by "
        "rounding the median of the draws to the nearest observed category)",
    )
    p.add_argument(
        "--variants", help="inner-fill: default mean,argmax,draw; sampler: ';'-separated settings"
    )
    args = p.parse_args()
    cell = load_cell(args.dataset, args.first_mask, args.max_rows)
    if args.experiment == "baseline":
        baseline(cell, args.method)
        return
    if args.experiment == "inner-fill":
        inner_fill(cell, (args.variants or "mean,argmax,draw").split(","))
        return
    numeric = [name for name in args.numeric.split(",") if name]
    if args.model and (numeric or args.set):
        p.error("--numeric and --set shape a fit; a loaded --model was fitted already")
    unknown = sorted(set(numeric) - {str(name) for name in cell.categorical})
    if unknown:
        p.error(f"--numeric: not categorical in {args.dataset}: {', '.join(unknown)}")
    for frame in cell.masked.values():  # category dtype would keep them categorical
        frame[numeric] = frame[numeric].astype(float)
    imp = _fitted(cell, args.model, numeric, settings(args.set.split(",")))
    if args.save:
        imp.save(args.save)
    if args.experiment == "samples":
        samples(cell, imp, args.samples)
    elif args.experiment == "sampler":
        sampler(cell, imp, (args.variants or "").split(";"))
    else:
        joint(cell, imp, args.rows, args.pair.split(","))


if __name__ == "__main__":
    main()
