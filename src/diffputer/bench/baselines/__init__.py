"""One registry of imputers that all speak the same mixed DataFrames.

>>> from diffputer.bench.baselines import available, make, registered
>>> registered()  # doctest: +NORMALIZE_WHITESPACE
['mean', 'knn', 'mice', 'missforest', 'softimpute', 'em', 'diffputer', 'remasker',
 'missdiff', 'mot', 'tdm', 'gain', 'miwae', 'hyperimpute', 'miracle']
>>> make("missforest:n_estimators=50", random_state=0).n_estimators
50

A method is named by a *spec*: ``name`` or ``name:key=value:key=value``, where each
``key`` is a constructor parameter (``diffputer:preset=paper``,
``diffputer:n_em_iter=2:max_epochs=50``, ``knn:n_neighbors=10``). Values are read as
int, float, ``true``/``false``, ``none``, else kept as strings.

Every method has ``fit``, ``transform`` and ``fit_transform``; ``fit_transform`` is the
in-sample imputation and ``transform`` imputes new rows. A method that can only impute
the rows it was fitted on has ``out_of_sample = False`` and its ``transform`` raises
:class:`InSampleOnlyError` (see :func:`supports_out_of_sample`).

A method may need something outside this package: HyperImpute and MIRACLE run in an
isolated environment made by ``scripts/make_hyperimpute_env.sh``. :func:`available`
lists the methods that can run here, :func:`unavailable` says why the others cannot,
and :func:`make` refuses them with that reason. The fidelity of every method to its
authors' code is documented in ``docs/baselines.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._imputer import DiffPuterImputer
from ._base import BinaryCodec, InSampleOnlyError, MixedImputer, OneHotCodec, OrdinalCodec
from ._gain import GAINBaseline
from ._gaussian_em import GaussianEMBaseline
from ._isolated import (
    HyperImputeBaseline,
    IsolatedEnvironmentError,
    IsolatedMethodError,
    MeanFillError,
    MIRACLEBaseline,
    environment_problem,
)
from ._missdiff import MissDiffBaseline
from ._missforest import MissForestBaseline
from ._miwae import MIWAEBaseline
from ._ot import MOTBaseline
from ._remasker import ReMaskerBaseline
from ._simple import KNNBaseline, MeanModeBaseline, MICEBaseline
from ._softimpute import SoftImputeBaseline
from ._tdm import TDMBaseline

__all__ = [
    "BinaryCodec",
    "GAINBaseline",
    "GaussianEMBaseline",
    "HyperImputeBaseline",
    "InSampleOnlyError",
    "IsolatedEnvironmentError",
    "IsolatedMethodError",
    "KNNBaseline",
    "MICEBaseline",
    "MIRACLEBaseline",
    "MIWAEBaseline",
    "MOTBaseline",
    "MeanFillError",
    "MeanModeBaseline",
    "MethodInfo",
    "MissDiffBaseline",
    "MissForestBaseline",
    "MixedImputer",
    "OneHotCodec",
    "OrdinalCodec",
    "ReMaskerBaseline",
    "SoftImputeBaseline",
    "TDMBaseline",
    "available",
    "canonical_spec",
    "check_spec",
    "label",
    "make",
    "parse_spec",
    "registered",
    "supports_out_of_sample",
    "unavailable",
]


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: how to build it, and its name in the paper's tables.

    ``problem(params)``, when given, says why the method cannot run here with these
    constructor parameters (None when it can).
    """

    factory: Callable[..., Any]
    label: str
    defaults: dict[str, Any]
    problem: Callable[[dict[str, Any]], str | None] | None = None


def _isolated_problem(params: dict[str, Any]) -> str | None:
    return environment_problem(params.get("python"))


_REGISTRY: dict[str, MethodInfo] = {
    "mean": MethodInfo(MeanModeBaseline, "Mean/mode", {}),
    "knn": MethodInfo(KNNBaseline, "KNN", {}),
    "mice": MethodInfo(MICEBaseline, "MICE", {}),
    "missforest": MethodInfo(MissForestBaseline, "MissForest", {}),
    "softimpute": MethodInfo(SoftImputeBaseline, "SoftImpute", {}),
    "em": MethodInfo(GaussianEMBaseline, "EM", {}),
    "diffputer": MethodInfo(DiffPuterImputer, "DiffPuter", {"verbose": 0}),
    # the paper's strongest competitors (docs/baselines.md: sources, defaults, differences)
    "remasker": MethodInfo(ReMaskerBaseline, "ReMasker", {}),
    "missdiff": MethodInfo(MissDiffBaseline, "MissDiff", {}),
    "mot": MethodInfo(MOTBaseline, "MOT", {}),
    "tdm": MethodInfo(TDMBaseline, "TDM", {}),
    "gain": MethodInfo(GAINBaseline, "GAIN", {}),
    "miwae": MethodInfo(MIWAEBaseline, "MIWAE", {}),
    "hyperimpute": MethodInfo(HyperImputeBaseline, "HyperImpute", {}, _isolated_problem),
    "miracle": MethodInfo(MIRACLEBaseline, "MIRACLE", {}, _isolated_problem),
}


def registered() -> list[str]:
    """Names of every registered method, runnable here or not."""
    return list(_REGISTRY)


def unavailable() -> dict[str, str]:
    """Registered methods that cannot run here (with default parameters), and why."""
    out = {}
    for name, info in _REGISTRY.items():
        problem = info.problem({}) if info.problem is not None else None
        if problem:
            out[name] = problem
    return out


def available() -> list[str]:
    """Names of the registered methods that can run here (see :func:`unavailable`)."""
    missing = unavailable()
    return [name for name in _REGISTRY if name not in missing]


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value:..."`` into the method name and its parameters.

    Raises
    ------
    ValueError
        Unknown method, malformed ``key=value``, or a key given twice.
    """
    name, *items = spec.strip().split(":")
    name = name.strip().lower()
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r} in {spec!r}; expected one of {registered()}")
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"method {spec!r}: expected key=value, got {item!r}")
        if key in params:
            raise ValueError(f"method {spec!r}: {key!r} given twice")
        params[key] = _parse_value(value.strip())
    return name, params


def canonical_spec(spec: str) -> str:
    """The spec with the name lower-cased and parameters sorted: one string per setting."""
    name, params = parse_spec(spec)
    return ":".join([name, *(f"{k}={v}" for k, v in sorted(params.items()))])


def label(spec: str) -> str:
    """The paper's name of the method (``"MissForest"``), with any parameters appended."""
    name, params = parse_spec(spec)
    extra = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{_REGISTRY[name].label} ({extra})" if extra else _REGISTRY[name].label


def make(spec: str, random_state: Any = None, **params: Any) -> Any:
    """Build a method from its spec.

    Parameters
    ----------
    spec : str
        ``name`` or ``name:key=value:...`` (see :func:`available`).
    random_state : int, RandomState instance or None
        Passed to the method (deterministic methods accept and ignore it).
    **params
        More constructor parameters; they override the spec's.

    Returns
    -------
    estimator
        With ``fit``, ``transform`` and ``fit_transform`` on mixed DataFrames.

    Raises
    ------
    ValueError
        Unknown method or parameter (the message lists the valid ones).
    IsolatedEnvironmentError
        The method needs an environment that does not exist here (see :func:`unavailable`).
    """
    name, spec_params = parse_spec(spec)
    info = _REGISTRY[name]
    kwargs = {**info.defaults, **spec_params, **params, "random_state": random_state}
    valid = set(info.factory().get_params())
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise ValueError(f"method {name!r} has no parameter {unknown}; valid: {sorted(valid)}")
    problem = info.problem(kwargs) if info.problem is not None else None
    if problem:
        raise IsolatedEnvironmentError(f"method {name!r} is unavailable: {problem}")
    return info.factory(**kwargs)


def check_spec(spec: str) -> str:
    """Build the method once and validate its parameters, so a run fails before any work.

    Returns
    -------
    str
        The canonical spec (:func:`canonical_spec`).

    Raises
    ------
    ValueError
        Unknown method or parameter, or a parameter value the method refuses.
    """
    estimator = make(spec)
    validate = getattr(estimator, "_validate_params", None)  # scikit-learn's own checks
    if validate is not None:
        validate()
    return canonical_spec(spec)


def supports_out_of_sample(estimator: Any) -> bool:
    """Whether ``estimator.transform`` can impute rows it was not fitted on."""
    return bool(getattr(estimator, "out_of_sample", True))
