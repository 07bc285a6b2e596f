"""Methods that run in an isolated, pinned environment: HyperImpute and MIRACLE.

The paper ran both through the ``hyperimpute`` package (Jarrett et al. 2022; last
release 0.1.17, 2023). That package needs ``pandas < 3``, ``numpy < 2.1`` and
``scikit-learn < 1.8``, and with newer versions some of its plugins fail inside a
``try``/``except`` and silently hand back the mean fill. We do not depend on it.
Instead ``scripts/make_hyperimpute_env.sh`` builds a separate virtual environment with
pinned versions (default ``.envs/hyperimpute`` in the repository; elsewhere set
``DIFFPUTER_HYPERIMPUTE_ENV`` or pass ``python=``), and each fit:

1. encodes the table with the shared one-hot codec and saves the matrix (NaN = missing)
   with ``numpy.save`` in a temporary folder, with a ``request.json``;
2. runs ``diffputer/bench/_hyperimpute_worker.py`` with that environment's python in
   isolated mode (``-I``: neither our package nor the caller's environment variables
   leak in); the worker imports ``hyperimpute``, never ``diffputer``;
3. reads ``imputed.npy`` back, restores the observed cells, and **refuses an output
   equal to the mean fill** (:class:`MeanFillError`), the failure mode named above.

Both plugins fit on the rows they impute (their ``transform`` refits), so both are
in-sample only here, as in the paper's tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import MixedImputer

__all__ = [
    "ENV_VARIABLE",
    "HyperImputeBaseline",
    "IsolatedEnvironmentError",
    "IsolatedMethodError",
    "MIRACLEBaseline",
    "MeanFillError",
    "default_environment",
    "environment_problem",
]

ENV_VARIABLE = "DIFFPUTER_HYPERIMPUTE_ENV"
WORKER = Path(__file__).resolve().parent.parent / "_hyperimpute_worker.py"
_MAKE = "scripts/make_hyperimpute_env.sh"


class IsolatedEnvironmentError(FileNotFoundError):
    """The isolated environment a method needs does not exist (its interpreter is missing)."""


class IsolatedMethodError(RuntimeError):
    """The method failed inside its isolated environment."""


class MeanFillError(IsolatedMethodError):
    """The isolated method returned the mean fill, the known silent failure of its package."""


def default_environment() -> Path:
    """``$DIFFPUTER_HYPERIMPUTE_ENV``, else ``.envs/hyperimpute`` in the source checkout."""
    if os.environ.get(ENV_VARIABLE):
        return Path(os.environ[ENV_VARIABLE])
    return Path(__file__).resolve().parents[4] / ".envs" / "hyperimpute"


def interpreter(python: str | None = None) -> Path:
    """The isolated environment's python (``python`` if given)."""
    return Path(python) if python else default_environment() / "bin" / "python"


def environment_problem(python: str | None = None) -> str | None:
    """Why the isolated environment cannot be used, or None when it can."""
    path = interpreter(python)
    if not path.exists():
        return (
            f"the isolated hyperimpute environment is missing (no {path}); create it with "
            f"{_MAKE}, or point {ENV_VARIABLE} (or the method's python=) to one"
        )
    return None


class _IsolatedImputer(MixedImputer):
    """Run one ``hyperimpute`` plugin in the isolated environment, on the one-hot encoding."""

    out_of_sample = False
    _method = ""
    _common_constraints: dict = {
        "python": [str, None],
        "timeout": [Interval(Real, 0, None, closed="neither"), None],
        "allow_mean_fill": ["boolean"],
        "random_state": ["random_state"],
    }

    def _plugin_params(self) -> dict:
        raise NotImplementedError

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        problem = environment_problem(self.python)
        if problem:
            raise IsolatedEnvironmentError(problem)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        request = {"method": self._method, "params": self._plugin_params(), "seed": seed}
        with tempfile.TemporaryDirectory(prefix="diffputer-isolated-") as tmp:
            folder = Path(tmp)
            np.save(folder / "x.npy", x, allow_pickle=False)
            (folder / "request.json").write_text(json.dumps(request))
            self._run_worker(folder)
            out = np.load(folder / "imputed.npy", allow_pickle=False)
            info = json.loads((folder / "info.json").read_text())
        self.versions_, self.worker_seconds_ = info["versions"], info["seconds"]
        return self._checked(x, out)

    def _run_worker(self, folder: Path) -> None:
        command = [str(interpreter(self.python)), "-I", str(WORKER), "--request", str(folder)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.timeout, env=env
            )
        except subprocess.TimeoutExpired:
            raise IsolatedMethodError(
                f"{self._method} did not finish within timeout={self.timeout}s"
            ) from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            last = lines[-1] if lines else f"exit status {done.returncode}"
            raise IsolatedMethodError(f"{self._method} failed in the isolated environment: {last}")

    def _checked(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Observed cells restored; a non-finite output or the mean fill is refused."""
        missing = np.isnan(x)
        if out.shape != x.shape or not np.isfinite(out[missing]).all():
            raise IsolatedMethodError(f"{self._method} returned a malformed or non-finite matrix")
        mean_fill = np.broadcast_to(np.nanmean(x, axis=0), x.shape)
        if missing.any() and np.allclose(out[missing], mean_fill[missing], rtol=0, atol=1e-6):
            message = (
                f"{self._method} returned the mean fill for every missing cell: the known "
                "silent failure of the hyperimpute package (wrong library versions, or a "
                "plugin error it swallowed); its output is not a result of the method"
            )
            if not self.allow_mean_fill:
                raise MeanFillError(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)
        return np.where(missing, out, x)


class HyperImputeBaseline(_IsolatedImputer):
    """HyperImpute (Jarrett et al., ICML 2022): iterative imputation with AutoML model
    selection per column, from the ``hyperimpute`` package, run in its isolated environment.

    The paper used the plugin's defaults ("the default budget"); so do we. Its seeds are
    linear/logistic regression, random forests, XGBoost and CatBoost (plus neural nets
    when the environment has CUDA). In-sample only.

    Parameters
    ----------
    optimizer : {"simple", "bayesian", "hyperband"}, default="simple"
        The package's model search.
    n_inner_iter : int, default=40
        Most imputation sweeps.
    class_threshold : int, default=5
        Columns with fewer distinct values are imputed by classifiers (each standardised
        one-hot indicator has two).
    python : str or None, default=None
        The isolated interpreter (default: :func:`default_environment`).
    timeout : float or None, default=None
        Seconds before the worker is killed.
    allow_mean_fill : bool, default=False
        Accept (with a warning) an output equal to the mean fill instead of raising.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    versions_ : dict
        Library versions in the isolated environment.
    worker_seconds_ : float
    """

    _method = "hyperimpute"
    _parameter_constraints: dict = {
        **_IsolatedImputer._common_constraints,
        "optimizer": [StrOptions({"simple", "bayesian", "hyperband"})],
        "n_inner_iter": [Interval(Integral, 1, None, closed="left")],
        "class_threshold": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        optimizer: str = "simple",
        n_inner_iter: int = 40,
        class_threshold: int = 5,
        python: str | None = None,
        timeout: float | None = None,
        allow_mean_fill: bool = False,
        random_state: Any = None,
    ):
        self.optimizer = optimizer
        self.n_inner_iter = n_inner_iter
        self.class_threshold = class_threshold
        self.python = python
        self.timeout = timeout
        self.allow_mean_fill = allow_mean_fill
        self.random_state = random_state

    def _plugin_params(self) -> dict:
        return {
            "optimizer": self.optimizer,
            "n_inner_iter": self.n_inner_iter,
            "class_threshold": self.class_threshold,
        }


class MIRACLEBaseline(_IsolatedImputer):
    """MIRACLE (Kyono et al., NeurIPS 2021): causally-aware refinement of a mean-fill seed
    imputation, from the ``hyperimpute`` package (``miracle-imputation``, TensorFlow 1
    code), run in its isolated environment. In-sample only.

    Defaults are the plugin's, as in the paper. The package's training loop skips its
    first mini-batch, so a table with fewer than ``2 * batch_size`` rows is never trained
    on and the untrained network's output comes back; we refuse such tables instead
    (lower ``batch_size`` for small ones).

    Parameters
    ----------
    max_steps : int, default=400
    batch_size : int, default=1024
    lr : float, default=1e-3
    n_hidden : int, default=32
    reg_lambda, reg_beta : float, default=1
        Weights of the DAG and reconstruction regularisers.
    window : int, default=10
        Number of recent predictions averaged into the imputation.
    python, timeout, allow_mean_fill, random_state
        As for :class:`HyperImputeBaseline`.
    """

    _method = "miracle"
    _parameter_constraints: dict = {
        **_IsolatedImputer._common_constraints,
        "max_steps": [Interval(Integral, 2, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "reg_beta": [Interval(Real, 0, None, closed="left")],
        "window": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        max_steps: int = 400,
        batch_size: int = 1024,
        lr: float = 1e-3,
        n_hidden: int = 32,
        reg_lambda: float = 1.0,
        reg_beta: float = 1.0,
        window: int = 10,
        python: str | None = None,
        timeout: float | None = None,
        allow_mean_fill: bool = False,
        random_state: Any = None,
    ):
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.n_hidden = n_hidden
        self.reg_lambda = reg_lambda
        self.reg_beta = reg_beta
        self.window = window
        self.python = python
        self.timeout = timeout
        self.allow_mean_fill = allow_mean_fill
        self.random_state = random_state

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        if len(x) < 2 * self.batch_size:
            raise ValueError(
                f"MIRACLE (hyperimpute package) trains on no mini-batch with {len(x)} rows "
                f"and batch_size={self.batch_size}: it needs at least 2 * batch_size rows; "
                f"pass a smaller batch_size (e.g. miracle:batch_size={max(1, len(x) // 4)})"
            )
        return super()._fit_impute(x)

    def _plugin_params(self) -> dict:
        return {
            "max_steps": self.max_steps,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "n_hidden": self.n_hidden,
            "reg_lambda": self.reg_lambda,
            "reg_beta": self.reg_beta,
            "window": self.window,
        }
