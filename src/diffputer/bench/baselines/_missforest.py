"""MissForest (Stekhoven & Buehlmann 2012, Bioinformatics 28:112), with scikit-learn forests.

scikit-learn's ``IterativeImputer`` with a forest is not MissForest: it has no
classifier for categorical columns and a different stopping rule. This module follows
the R package ``missForest``: a random-forest regression per numeric column and a
random-forest classification per categorical column, refitted in turn on the current
imputation until the imputation stops improving.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import InSampleOnlyError, MixedImputer

__all__ = ["MissForestBaseline"]


def _differences(new: np.ndarray, old: np.ndarray, missing: np.ndarray, is_cat: np.ndarray):
    """Stekhoven & Buehlmann's change between two imputations, per variable type.

    Numeric: ``sum((new - old)^2) / sum(new^2)`` over the numeric columns. Categorical:
    the share of missing categorical cells whose imputed category changed. Only the
    types that have missing cells are returned.
    """
    out = {}
    num, cat = ~is_cat & missing.any(axis=0), is_cat & missing.any(axis=0)
    if num.any():
        denominator = max(float(np.sum(new[:, ~is_cat] ** 2)), np.finfo(float).tiny)
        out["numeric"] = float(np.sum((new[:, num] - old[:, num]) ** 2)) / denominator
    if cat.any():
        out["categorical"] = float(np.sum(new[:, cat] != old[:, cat]) / missing[:, cat].sum())
    return out


class MissForestBaseline(MixedImputer):
    """MissForest: iterated random forests, regressors for numeric columns, classifiers
    for categorical ones.

    On the ordinal encoding (numbers raw, categories as integer codes; scikit-learn's
    forests have no native categorical splits, so categorical *predictors* are split on
    their codes). Fit, as in the paper and the R package:

    1. fill missing cells with the observed mean (numeric) or mode (categorical);
    2. visit the columns with missing cells in order of increasing missingness; for each,
       fit a forest on the rows where it is observed (predictors: all other columns, as
       currently imputed) and replace its missing cells by the forest's predictions;
    3. after each sweep, compute the change of the imputation per variable type
       (:func:`_differences`); stop as soon as it has increased for every type present,
       and return the *previous* imputation; or stop after ``max_iter`` sweeps.

    Out-of-sample (declared; the paper applies MissForest to test rows without saying
    how): ``fit`` keeps the forests of the sweep whose imputation it returned, one per
    column; columns complete in training get a forest fitted once on the final
    imputation, so every column can be imputed. ``transform`` fills new rows with the
    training mean/mode, then sweeps the **frozen** forests over them in the same column
    order, with the same stopping rule on the new rows' changes.

    Memory: one forest per column is kept, two while fitting. Fully grown trees are big:
    a 100-tree regression forest on 10,000 rows takes about 85 MB (measured on
    California), so a 23-column table of 20,000 training rows can hold several GB.
    ``min_samples_leaf`` shrinks them; ``keep_forests=False`` keeps none and makes the
    method in-sample only.

    Parameters
    ----------
    n_estimators : int, default=100
        Trees per forest (R ``missForest`` default).
    max_iter : int, default=10
        Most sweeps (R default).
    max_features : {"sqrt", "log2"}, int, float or None, default="sqrt"
        Predictors tried per split; R ``missForest`` uses ``floor(sqrt(p))`` for both
        forest types.
    min_samples_leaf : int, default=1
        scikit-learn's default (R's randomForest stops splitting regression nodes of 5
        samples or fewer; raise this to save memory on large tables).
    n_jobs : int, default=-1
        Threads per forest.
    keep_forests : bool, default=True
        Keep the fitted forests so that ``transform`` works.
    random_state : int, RandomState instance or None, default=None
        Seeds every forest.

    Attributes
    ----------
    n_iter_ : int
        Sweeps run.
    differences_ : list of dict
        The change after each sweep, per variable type.
    forests_ : dict of int to estimator
        Column index -> the forest that imputes it (only with ``keep_forests``).
    """

    codec = "ordinal"

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_features": [
            StrOptions({"sqrt", "log2"}),
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            None,
        ],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "keep_forests": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_iter: int = 10,
        max_features: Any = "sqrt",
        min_samples_leaf: int = 1,
        n_jobs: int | None = -1,
        keep_forests: bool = True,
        random_state: Any = None,
    ):
        self.n_estimators = n_estimators
        self.max_iter = max_iter
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.n_jobs = n_jobs
        self.keep_forests = keep_forests
        self.random_state = random_state

    @property
    def out_of_sample(self) -> bool:
        return self.keep_forests

    # ------------------------------------------------------------------ helpers
    def _forest(self, categorical: bool, rng: np.random.RandomState):
        kind = RandomForestClassifier if categorical else RandomForestRegressor
        return kind(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=rng.randint(2**31 - 1),
        )

    def _initial_fill(self, x: np.ndarray, missing: np.ndarray) -> np.ndarray:
        return np.where(missing, self.initial_values_, x)

    @staticmethod
    def _predict_into(forest, filled: np.ndarray, j: int, rows: np.ndarray) -> None:
        """Replace ``filled[rows, j]`` by the forest's prediction from the other columns."""
        others = np.delete(filled[rows], j, axis=1)
        filled[rows, j] = forest.predict(others)

    def _sweeps(self, x: np.ndarray, missing: np.ndarray, step) -> tuple[np.ndarray, list, bool]:
        """Sweep ``step(filled)`` until the stopping rule; return the kept imputation.

        Returns the imputation, the change after every sweep, and whether the last sweep
        was undone (the change increased for every type, so the previous one is kept).
        """
        is_cat = self.codec_.is_categorical
        filled = self._initial_fill(x, missing)
        history: list[dict[str, float]] = []
        for _ in range(self.max_iter):
            before = filled.copy()
            step(filled)
            change = _differences(filled, before, missing, is_cat)
            if history and all(change[k] >= history[-1][k] for k in change):
                return before, [*history, change], True
            history.append(change)
        return filled, history, False

    # ------------------------------------------------------------------ fit
    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        missing = np.isnan(x)
        is_cat = self.codec_.is_categorical
        self.initial_values_ = np.array(
            [_column_fill(x[~missing[:, j], j], is_cat[j]) for j in range(x.shape[1])]
        )
        counts = missing.sum(axis=0)
        to_impute = [j for j in np.argsort(counts, kind="stable") if 0 < counts[j] < len(x)]
        rng = check_random_state(self.random_state)
        sweeps: list[dict[int, Any]] = []  # the forests of the last two sweeps

        def step(filled: np.ndarray) -> None:
            del sweeps[:-1]  # the previous sweep's forests are kept, older ones freed
            forests = {}
            for j in to_impute:
                observed = ~missing[:, j]
                forest = self._forest(bool(is_cat[j]), rng)
                forest.fit(np.delete(filled[observed], j, axis=1), x[observed, j])
                self._predict_into(forest, filled, j, np.flatnonzero(missing[:, j]))
                if self.keep_forests:
                    forests[j] = forest
            sweeps.append(forests)

        filled, self.differences_, went_back = self._sweeps(x, missing, step)
        self.n_iter_ = len(self.differences_)
        self.forests_ = sweeps[-2] if went_back else sweeps[-1]
        if self.keep_forests:
            for j in np.flatnonzero(counts == 0):  # complete in training: fit once, for transform
                forest = self._forest(bool(is_cat[j]), rng)
                self.forests_[j] = forest.fit(np.delete(filled, j, axis=1), filled[:, j])
        self.order_ = [j for j in np.argsort(counts, kind="stable") if j in self.forests_]
        return filled

    # ------------------------------------------------------------------ transform
    def _impute_new(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "forests_")
        if not self.keep_forests:
            raise InSampleOnlyError(
                "MissForestBaseline(keep_forests=False) kept no forests: it imputes only the "
                "rows it was fitted on (in-sample); use fit_transform, or keep_forests=True"
            )
        missing = np.isnan(x)
        order = [j for j in self.order_ if missing[:, j].any()]

        def step(filled: np.ndarray) -> None:
            for j in order:
                self._predict_into(self.forests_[j], filled, j, np.flatnonzero(missing[:, j]))

        return self._sweeps(x, missing, step)[0]


def _column_fill(observed: np.ndarray, categorical: bool) -> float:
    """The initial value of a column: observed mean, or most frequent code (0 if none)."""
    if observed.size == 0:
        return 0.0
    if categorical:
        values, counts = np.unique(observed, return_counts=True)
        return float(values[np.argmax(counts)])
    return float(observed.mean())
