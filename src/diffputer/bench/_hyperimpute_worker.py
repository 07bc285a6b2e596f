"""Run one method of the ``hyperimpute`` package on a matrix saved to disk.

This file is a script for the isolated environment built by
``scripts/make_hyperimpute_env.sh``: it imports ``hyperimpute`` and never ``diffputer``
(the two need incompatible versions of numpy, pandas and scikit-learn). The calling
side is ``diffputer.bench.baselines._isolated``.

Usage::

    python _hyperimpute_worker.py --request DIR    # DIR/x.npy + DIR/request.json in,
                                                   # DIR/imputed.npy + DIR/info.json out
    python _hyperimpute_worker.py --self-check     # both methods beat the mean fill

``x.npy`` is a float64 matrix with NaN for missing cells; ``request.json`` holds
``{"method": "hyperimpute" | "miracle", "params": {...}, "seed": int}``, where
``params`` are keyword arguments of the hyperimpute plugin. ``imputed.npy`` has the same
shape with every cell filled; ``info.json`` records the library versions and seconds.
Exit status 0 on success; otherwise the error is the last line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

METHODS = ("hyperimpute", "miracle")


def _quiet() -> None:
    """Silence the libraries' logging: the caller reads stdout/stderr only on failure."""
    warnings.filterwarnings("ignore")
    try:
        from loguru import logger

        logger.remove()
    except ImportError:  # pragma: no cover - part of the environment
        pass


def _versions() -> dict:
    import importlib.metadata as md

    names = ["hyperimpute", "miracle-imputation", "numpy", "pandas", "scikit-learn", "torch"]
    names += ["tensorflow-cpu", "xgboost", "catboost"]
    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def impute(x, method: str, params: dict, seed: int):
    """Fit ``method`` on ``x`` (NaN = missing) and return it imputed (in-sample)."""
    import numpy as np
    import pandas as pd
    from hyperimpute.plugins.imputers import Imputers

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    plugin = Imputers().get(method, random_state=int(seed), **params)
    out = plugin.fit_transform(pd.DataFrame(x))
    out = np.asarray(out, dtype=np.float64)
    if out.shape != x.shape:
        raise RuntimeError(f"{method} returned shape {out.shape}, expected {x.shape}")
    return out


def run_request(folder: Path) -> None:
    import numpy as np

    request = json.loads((folder / "request.json").read_text())
    x = np.load(folder / "x.npy", allow_pickle=False)
    start = time.perf_counter()
    out = impute(x, request["method"], request.get("params", {}), request.get("seed", 0))
    info = {"seconds": time.perf_counter() - start, "versions": _versions()}
    np.save(folder / "imputed.npy", out, allow_pickle=False)
    (folder / "info.json").write_text(json.dumps(info))


def self_check() -> int:
    """Impute a small correlated table with each method; fail if one is no better than mean."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 300
    u, v = rng.normal(size=n), rng.normal(size=n)
    truth = np.column_stack([u, 2 * u - v, v, u + v]) + 0.1 * rng.normal(size=(n, 4))
    hidden = rng.random(truth.shape) < 0.3
    x = np.where(hidden, np.nan, truth)
    mean_fill = np.where(hidden, np.nanmean(x, axis=0), x)
    mae_mean = np.abs(mean_fill - truth)[hidden].mean()
    failed = False
    # MIRACLE (as packaged) trains on no batch unless the table has 2 x batch_size rows
    params = {"hyperimpute": {}, "miracle": {"batch_size": 64}}
    for method in METHODS:
        start = time.perf_counter()
        out = impute(x, method, params[method], 0)
        mae = np.abs(out - truth)[hidden].mean()
        same = np.allclose(out[hidden], mean_fill[hidden], atol=1e-6)
        ok = np.isfinite(out).all() and not same and mae < mae_mean
        failed |= not ok
        print(
            f"{method}: MAE {mae:.3f} vs mean fill {mae_mean:.3f}, equals mean fill: {same}, "
            f"{time.perf_counter() - start:.1f}s -> {'ok' if ok else 'FAILED'}"
        )
    print(json.dumps(_versions()))
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--request", type=Path, help="folder with x.npy and request.json")
    group.add_argument("--self-check", action="store_true")
    args = parser.parse_args(argv)
    _quiet()
    if args.self_check:
        return self_check()
    try:
        run_request(args.request)
    except Exception as exc:  # noqa: BLE001 - reported to the caller in one line
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
