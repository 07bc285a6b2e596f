"""``DiffPuterImputer``: the scikit-learn estimator around the EM loop."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._checkpoint import EMCheckpoint, fingerprint
from ._em import EMResult, e_step, run_em
from ._encoding import TableEncoder, plain_label
from ._progress import Progress, progress_bar
from ._validation import check_table
from .config import DEFAULT_PRESET, PRESETS, SETTING_CONSTRAINTS, Preset, get_preset

__all__ = ["DiffPuterImputer", "resolve_device"]

# constructor arguments that override a setting of the preset (None: keep the preset's)
OVERRIDES = (
    "n_em_iter",
    "num_samples",
    "num_steps",
    "resample_repeats",
    "hidden_dim",
    "max_epochs",
    "batch_size",
    "lr",
    "patience",
    "warm_start",
    "rows_per_m_step",
    "ema_decay",
    "final_num_samples",
    "aggregate",
    "numeric_transform",
    "guidance",
)


# the ``device`` strings the estimator accepts (N: a CUDA device's index)
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def cuda_missing(device: str) -> bool:
    """Whether ``device`` asks for CUDA on a machine without it."""
    return str(device).startswith("cuda") and not torch.cuda.is_available()


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when available; an unknown device string, or one asking for
    a backend this machine lacks (CUDA, MPS), is a ``ValueError``."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ValueError(
            f"device={device!r} is not a device diffputer knows; use one of "
            f"{', '.join(map(repr, DEVICES))} (N: the index of a CUDA device)"
        )
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cuda_missing(device):
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s), numbered from 0"
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested but MPS is not available")
    return torch.device(device)


def _is_polars(X: Any) -> bool:
    """Whether ``X`` is a polars DataFrame (polars need not be installed)."""
    kind = type(X)
    return kind.__module__.partition(".")[0] == "polars" and kind.__name__ == "DataFrame"


def _nan_as_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the NaN of nullable and Arrow float columns made missing.

    pandas' ``Float64`` and Arrow floats (polars columns) can hold NaN beside their
    nulls, and ``isna`` does not see it; a NaN is a missing number in a numpy column,
    so it is one here too (else it would pass through unimputed). A copy only when
    there is such a NaN.
    """
    out = frame
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        dtype = column.dtype
        if not isinstance(dtype, pd.api.extensions.ExtensionDtype):
            continue
        if not ptypes.is_float_dtype(dtype):
            continue
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        nan = np.isnan(values) & ~column.isna().to_numpy(dtype=bool)
        if nan.any():
            out = frame.copy() if out is frame else out
            out.isetitem(i, column.mask(nan))
    return out


def _as_frame(X: Any) -> tuple[pd.DataFrame, np.dtype | None]:
    """A DataFrame view of ``X`` and, for non-frame input, the dtype of the output array.

    Arrays keep their dtype. An object array, or a list with ``None`` cells, is read
    column by column: numbers stay numbers where every cell is one. A list of numbers
    (with ``None`` as missing) gives a float64 array back, as ``np.asarray`` would have
    with NaN; an object array gives an object array back.
    """
    if isinstance(X, pd.DataFrame):
        return X, None
    # infinity is refused later, by check_table, with the column's name
    array = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1, copy=False)
    if array.dtype.kind in "fiub":
        return pd.DataFrame(array), array.dtype
    frame = pd.DataFrame(array).infer_objects()
    numeric = all(ptypes.is_numeric_dtype(t) and not ptypes.is_bool_dtype(t) for t in frame.dtypes)
    if numeric and not isinstance(X, np.ndarray):
        return frame, np.dtype(np.float64)
    return frame, array.dtype


def _with_column_hint(exc: ValueError) -> ValueError:
    """scikit-learn's feature-name error, plus how to fix it."""
    message = str(exc).rstrip("\n")
    return ValueError(
        f"{message}\nSelect the columns seen in fit, in their order: X[imputer.feature_names_in_]"
    )


def _check_labels(fitted: list[Any], columns: pd.Index) -> None:
    """Column labels that are not all strings, checked as scikit-learn checks string ones.

    scikit-learn records and checks ``feature_names_in_`` only for string names, and
    the encoder reads columns by position, so integer labels (``pd.DataFrame(array)``,
    ``read_csv(header=None)``) in another order would be imputed with another column's
    model. Same errors as for string names.
    """
    seen = [plain_label(c) for c in fitted]
    now = [plain_label(c) for c in columns]
    if now == seen:
        return
    message = "The feature names should match those that were passed during fit.\n"
    unseen = [c for c in now if c not in seen]
    missing = [c for c in seen if c not in now]
    for title, names in (
        ("Feature names unseen at fit time:", unseen),
        ("Feature names seen at fit time, yet now missing:", missing),
    ):
        if names:
            listed = [f"- {c!r}" for c in names[:5]] + (["- ..."] if len(names) > 5 else [])
            message += "\n".join([title, *listed]) + "\n"
    if not unseen and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    if len(seen) <= 10:
        fix = f"X[{seen!r}]"
    else:
        fix = "X[[c.name for c in imputer.encoder_.columns_]]"
    raise ValueError(f"{message}Select the columns seen in fit, in their order: {fix}")


def _bounds(encoder: TableEncoder, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    lo, hi = encoder.scaled_bounds()
    return torch.from_numpy(lo).to(device), torch.from_numpy(hi).to(device)


def _median_columns(encoder: TableEncoder, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(encoder.numeric_columns()).to(device)


def _column_groups(encoder: TableEncoder, device: torch.device) -> torch.Tensor:
    """The table column of every encoded column (one-hot blocks share theirs)."""
    groups = [
        i for i, block in enumerate(encoder.blocks()) for _ in range(block.stop - block.start)
    ]
    return torch.tensor(groups, dtype=torch.long, device=device)


class DiffPuterImputer(TransformerMixin, BaseEstimator):
    """Impute missing values with DiffPuter: a diffusion model trained inside EM.

    Numeric and categorical columns are modelled jointly: categoricals are one-hot
    encoded, everything is standardised on the observed cells, and an EDM diffusion
    model is trained on the completed table (M-step) before the missing cells are
    replaced by the average of conditional samples (E-step), ``n_em_iter`` times.

    Parameters
    ----------
    preset : {"fast", "paper", "conditional"} or Preset, default="fast"
        Named settings. ``"paper"`` reproduces the paper exactly (days of CPU time on
        real data); ``"fast"`` runs the same algorithm with CPU-sized settings (its
        width-128 network trains in bf16 where the CPU or GPU has native bf16, float32
        elsewhere, so its results differ slightly between such machines);
        ``"conditional"`` is not the paper's method: a denoiser that reads the observed
        cells, trained once on them (no EM) for longer, in bf16 where the CPU or GPU
        has native bf16 (float32 elsewhere, so its results differ slightly between
        such machines), and sampled directly (see ``docs/performance.md``). A
        :class:`~diffputer.Preset` gives every setting explicitly, e.g.
        ``get_preset("fast").replace(sigma_max=40.0)`` for one that has no constructor
        argument; it is saved with the model.
    random_state : int, RandomState instance or None, default=None
        Seeds training and sampling; an int makes ``fit`` and ``transform`` repeatable
        (a call on the same rows gives the same imputations; the same rows imputed in
        other batches, one at a time say, get other draws). A model file keeps an int;
        a ``RandomState`` instance is saved as None (it is not data).
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, default="auto"
        Where the network runs; ``"auto"`` uses CUDA when available. Another string,
        or a device this machine lacks, is a ``ValueError`` when fitting.
    verbose : int, default=0
        0 prints nothing; 1 shows progress bars on stderr; 2 also a line per EM iteration.
    categorical_columns : list of column labels (or indices for arrays), default=None
        Columns to treat as categorical whatever their dtype. Other columns are
        categorical if their dtype is bool, category, string or object.
    n_em_iter, num_samples, num_steps, resample_repeats : int, default=None
        Override the preset's EM iterations K, samples averaged N, noise levels M and
        RePaint repeats R.
    hidden_dim : int or "auto", default=None
        Override the network width; ``"auto"`` (the ``fast`` preset's) sizes it by the
        encoded table: 128 below 64 encoded columns (a one-hot column per category),
        256 from there.
    max_epochs, batch_size, patience : int, default=None
        Override the M-step's training budget (at every network width: ``"fast"``
        trains its width-128 network in larger batches than its width-256 one).
    lr : float, default=None
        Override the Adam learning rate (at every network width, as above).
    warm_start : bool, default=None
        Override whether each M-step starts from the previous network.
    rows_per_m_step : int, default=None
        Override the data each M-step sees: on ``n`` rows it trains
        ``ceil(rows_per_m_step / n)`` epochs, at most ``max_epochs`` (0: always
        ``max_epochs``, as the paper).
    ema_decay : float in [0, 1), default=None
        Override what an M-step leaves behind: 0 keeps the weights of the epoch with
        the lowest training loss (the paper); a decay in (0, 1) an exponential moving
        average of the weights over the M-step's steps (decay
        ``min(ema_decay, (1 + t) / (10 + t))`` at step t).
    final_num_samples : int, default=None
        Override the samples drawn for the imputations returned (the last E-step of
        ``fit``, and ``transform``); the E-steps inside EM draw ``num_samples``.
        None in a preset: ``num_samples``.
    aggregate : {"mean", "median"}, default=None
        Override how the imputations returned combine the samples of a missing numeric
        cell: "mean" (the paper's posterior mean, best for squared error) or "median"
        (the posterior median, best for absolute error). Categorical cells always take
        the samples' vote (the mean of their one-hot codes), and the E-steps inside EM
        always the mean.
    numeric_transform : {"standard", "quantile", "auto"}, default=None
        Override how numeric columns are encoded: "standard" standardises them (the
        paper); "quantile" first maps each through its empirical CDF to a normal
        distribution (fitted on the observed cells, inverted on output); "auto" does
        so only for discrete columns with a point mass (one value holds at least 25%
        of the observed cells, and distinct values number at most 5% of them: counts,
        ratings, zero-inflated whole amounts).
    guidance : float >= 0, default=None
        Override the E-step's reconstruction guidance weight (0: none, the paper's
        sampler): every denoised estimate of a guided step moves against the gradient
        of its squared error on the row's observed cells, on top of the paper's merges
        (the levels guided and the cells whose error counts: ``guidance_sigma_max``
        and ``guidance_cells`` of the preset; ``fast``: sigma <= 1, numeric cells).
        Each guided network call adds a backward pass. A conditional denoiser
        ignores it.

    Attributes
    ----------
    encoder_ : TableEncoder
        Column kinds, categories and standardisation statistics from the training data.
    denoiser_ : torch.nn.Module
        The trained denoiser (EDM-preconditioned MLP).
    preset_ : Preset
        The settings actually used (preset plus overrides).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when the input had string column names.
    n_iter_ : int
        EM iterations run.
    history_ : list of dict
        Per EM iteration: ``epochs``, ``train_loss``, ``best_loss``, ``diverged``
        (training hit a non-finite loss or blew up), ``kept_previous`` (it blew up so
        badly that the iteration was dropped: the previous network and imputations were
        kept; if it was the last, the previous network draws the returned imputations),
        ``m_step_seconds``, ``e_step_seconds`` and ``mean_abs_change`` (mean
        absolute change of the imputed cells, z units).

    Notes
    -----
    Inputs are checked before any training: a column without an observed value,
    infinite values, duplicate column names, dates and durations are refused with an
    error naming the column; constant columns, fully missing rows and extreme
    magnitudes work. The README's "What happens when" lists every case. No NaN or inf
    ever reaches an imputed cell: a diverged M-step keeps the last good state and a
    non-finite estimate falls back to the previous value (the mean or mode), each with
    a :class:`TrainingDivergedWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> from diffputer import DiffPuterImputer
    >>> X = np.array([[1.0, 2.0], [np.nan, 3.0], [7.0, np.nan], [4.0, 5.0]])
    >>> imp = DiffPuterImputer(n_em_iter=1, max_epochs=2, hidden_dim=16, random_state=0)
    >>> np.isnan(imp.fit_transform(X)).any()
    np.False_
    """

    _parameter_constraints: dict = {
        "preset": [StrOptions(set(PRESETS)), Preset],
        "random_state": ["random_state"],
        "device": [str],
        "verbose": ["verbose"],
        "categorical_columns": [list, tuple, None],
        # each override accepts what the setting accepts (config.py), or None
        **{name: [*SETTING_CONSTRAINTS[name], None] for name in OVERRIDES},
    }

    def __init__(
        self,
        *,
        preset: str | Preset = DEFAULT_PRESET,
        random_state: Any = None,
        device: str = "auto",
        verbose: int = 0,
        categorical_columns: list | tuple | None = None,
        n_em_iter: int | None = None,
        num_samples: int | None = None,
        num_steps: int | None = None,
        resample_repeats: int | None = None,
        hidden_dim: int | str | None = None,
        max_epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        patience: int | None = None,
        warm_start: bool | None = None,
        rows_per_m_step: int | None = None,
        ema_decay: float | None = None,
        final_num_samples: int | None = None,
        aggregate: str | None = None,
        numeric_transform: str | None = None,
        guidance: float | None = None,
    ):
        self.preset = preset
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.categorical_columns = categorical_columns
        self.n_em_iter = n_em_iter
        self.num_samples = num_samples
        self.num_steps = num_steps
        self.resample_repeats = resample_repeats
        self.hidden_dim = hidden_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.warm_start = warm_start
        self.rows_per_m_step = rows_per_m_step
        self.ema_decay = ema_decay
        self.final_num_samples = final_num_samples
        self.aggregate = aggregate
        self.numeric_transform = numeric_transform
        self.guidance = guidance

    # ------------------------------------------------------------------ helpers
    def _resolve_preset(self) -> Preset:
        overrides = {name: getattr(self, name) for name in OVERRIDES}
        base = self.preset if isinstance(self.preset, Preset) else get_preset(self.preset)
        return base.replace(**overrides)

    def _seeds(self) -> tuple[int, int]:
        """Seeds for fit and for transform, both derived from ``random_state``."""
        rng = check_random_state(self.random_state)
        return int(rng.randint(2**31 - 1)), int(rng.randint(2**31 - 1))

    def _progress(self) -> Progress | None:
        return Progress(self.verbose) if self.verbose else None

    def _check_input(self, X: Any, *, reset: bool) -> tuple[pd.DataFrame, Any]:
        """Validate ``X`` before any work; errors name the column and the fix.

        Returns the table as a DataFrame and what to give back (see :meth:`_output`):
        None for a DataFrame, the array's dtype for an array, the schema of a polars
        DataFrame (read through its Arrow columns, so that integers, booleans, text,
        categories and dates keep their types and are checked like pandas ones).
        """
        if _is_polars(X):
            output: Any = X.schema
            X = frame = X.to_pandas(use_pyarrow_extension_array=True)
        else:
            frame, output = _as_frame(X)  # arrays: shape and dtype checks first
        frame = _nan_as_missing(frame)
        if frame.shape[1] == 0:
            raise ValueError("X has 0 features; at least one column is required")
        check_table(frame)  # rows, duplicate names, dtypes, infinity
        is_array = isinstance(output, np.dtype)
        if not reset and not is_array and getattr(self, "_column_labels_", None):
            _check_labels(self._column_labels_, frame.columns)  # before the count check
        try:
            validate_data(self, X, skip_check_array=True, reset=reset)  # names, n_features_in_
        except ValueError as exc:
            if "feature names" not in str(exc):
                raise
            raise _with_column_hint(exc) from None
        if reset:  # labels that are not strings: scikit-learn does not record them
            named = not is_array and not hasattr(self, "feature_names_in_")
            self._column_labels_ = [plain_label(c) for c in frame.columns] if named else None
        if not reset and frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return frame, output

    def _output(self, frame: pd.DataFrame, z: np.ndarray, output: Any) -> Any:
        """``frame`` with its missing cells filled from ``z`` (numbers within the
        observed range when the preset clips), given back as the caller gave its table
        (``output`` from :meth:`_check_input`): a DataFrame, an array of its dtype, or
        a polars DataFrame of its schema (unless ``set_output`` asks for a container,
        which scikit-learn then makes from the DataFrame)."""
        frame = self.encoder_.fill(frame, z, self.preset_.sampler.clip_denoised)
        if output is None:
            return frame
        if isinstance(output, np.dtype):
            return frame.to_numpy(dtype=output if output.kind in "fiub" else object)
        if _get_output_config("transform", self)["dense"] != "default":
            return frame
        import polars as pl

        back = pl.from_pandas(frame)
        try:  # e.g. an Enum, which comes back from Arrow as a Categorical
            return back.cast(dict(output))
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            return back

    # ------------------------------------------------------------------ fitting
    def _checkpoint(
        self,
        directory: str | Path,
        z: np.ndarray,
        mask: np.ndarray,
        encoder: TableEncoder,
        preset: Preset,
        generator: torch.Generator,
    ) -> tuple[EMCheckpoint, EMResult | None]:
        """The fit's checkpoint and the state to resume from (None: start afresh)."""
        key = fingerprint(z, mask, encoder, preset, self.random_state, generator.device)
        checkpoint = EMCheckpoint(directory, key, preset, generator)
        start = checkpoint.load(z.shape, generator.device)
        if start is not None and self.verbose:
            print(
                f"diffputer: resuming from {checkpoint.path}: {len(start.history)} of "
                f"{preset.em.n_em_iter} EM iteration(s) already done",
                file=sys.stderr,
            )
        return checkpoint, start

    def _fit(
        self, X: Any, checkpoint_dir: str | Path | None
    ) -> tuple[pd.DataFrame, Any, np.ndarray]:
        self._validate_params()
        frame, output = self._check_input(X, reset=True)
        preset = self._resolve_preset()
        device = resolve_device(self.device)
        encoding = dataclasses.asdict(preset.encoding)
        encoder = TableEncoder(self.categorical_columns, **encoding).fit(frame)
        z, mask = encoder.transform(frame)
        fit_seed, _ = self._seeds()
        generator = torch.Generator(device=device).manual_seed(fit_seed)
        checkpoint, start = None, None
        if checkpoint_dir is not None:
            checkpoint, start = self._checkpoint(
                checkpoint_dir, z, mask, encoder, preset, generator
            )
        result = run_em(
            torch.from_numpy(z).to(device),
            torch.from_numpy(mask).to(device),
            preset,
            generator=generator,
            progress=self._progress(),
            start=start,
            on_iteration=None if checkpoint is None else checkpoint.save,
            bounds=_bounds(encoder, device),
            median_columns=_median_columns(encoder, device),
            column_groups=_column_groups(encoder, device),
        )
        self.encoder_ = encoder
        self.denoiser_ = result.net.eval()
        self.preset_ = preset
        self.n_iter_ = len(result.history)
        self.history_ = result.history
        return frame, output, result.z.cpu().numpy()

    def fit(
        self, X: Any, y: Any = None, *, checkpoint_dir: str | Path | None = None
    ) -> DiffPuterImputer:
        """Run EM on ``X`` and keep the final model.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Missing values are NaN/None/NA. Every column needs at least one observed
            value; infinite values, dates and durations are refused (see the README's
            "What happens when").
        y : ignored
        checkpoint_dir : str or Path, optional
            Save the state after every EM iteration to ``checkpoint_dir/checkpoint.dpc``
            (created if missing) and, if that file exists, resume after the iteration it
            holds. The resumed fit ends exactly as an uninterrupted one would. A
            checkpoint of other data, settings or ``random_state`` is refused
            (``ValueError``). The file is kept after the fit: delete it when done.

        Returns
        -------
        self : DiffPuterImputer
        """
        self._fit(X, checkpoint_dir)
        return self

    def fit_transform(
        self, X: Any, y: Any = None, *, checkpoint_dir: str | Path | None = None
    ) -> Any:
        """Run EM on ``X`` and return its last E-step: the in-sample imputation.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : ignored
        checkpoint_dir : str or Path, optional
            As in :meth:`fit`.

        Returns
        -------
        Same type as ``X``, with the same shape, index, column order and dtypes.
        """
        frame, output, z = self._fit(X, checkpoint_dir)
        return self._output(frame, z, output)

    # ------------------------------------------------------------------ imputing
    def transform(self, X: Any) -> Any:
        """Impute new rows with one E-step of the fitted model (out-of-sample).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Same columns as in ``fit``, in the same order (checked by label for a
            DataFrame, whatever the labels' type), each holding the same kind of
            values: a numeric column numbers, a categorical one a dtype that takes
            its categories (a ``TypeError`` naming the column otherwise).

        Returns
        -------
        Same type as ``X``, with the same shape, index, column order and dtypes; but a
        ``category`` column whose categories lack an imputed value (new rows made with
        ``.astype("category")`` have only the categories present) gets that value
        appended to its categories, after its own in their order. Observed cells are
        unchanged.
        """
        check_is_fitted(self)
        frame, output = self._check_input(X, reset=False)
        z, mask = self.encoder_.transform(frame)
        device = next(self.denoiser_.parameters()).device
        _, seed = self._seeds()
        generator = torch.Generator(device=device).manual_seed(seed)
        rows = int(mask.any(axis=1).sum())
        with progress_bar(self._progress(), "rows", rows, "imputing") as callback:
            z_out = e_step(
                self.denoiser_,
                torch.from_numpy(z),
                torch.from_numpy(mask),
                self.preset_.sampler,
                generator=generator,
                bounds=_bounds(self.encoder_, device),
                callback=callback,
                median_columns=_median_columns(self.encoder_, device),
            )
        return self._output(frame, z_out.numpy(), output)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names: the input's (an imputer keeps its columns)."""
        check_is_fitted(self, "n_features_in_")
        # scikit-learn's rule: input_features must match feature_names_in_ (or have
        # n_features_in_ entries); without either, x0, x1, ...
        return _check_feature_names_in(self, input_features)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the fitted model to one file (safetensors weights + JSON; no pickle)."""
        from ._persistence import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> DiffPuterImputer:
        """Read a model written by :meth:`save`; loading never runs code from the file.

        Parameters
        ----------
        path : str or Path
        device : str, optional
            Where to put the network (default: the saved ``device`` parameter; a model
            fitted with ``device="cuda"`` loads on the CPU, with a warning, where CUDA
            is not available).
        """
        from ._persistence import load_model

        return load_model(cls, path, device=device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
