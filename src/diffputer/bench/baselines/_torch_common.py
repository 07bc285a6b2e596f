"""What the neural baselines share: devices, seeds, scaling and a training-loop guard.

Every neural baseline draws all its randomness from ``random_state``: a numpy generator
for index sampling, a torch generator (on the training device) for noise, and a seed
for weight initialisation that is applied inside :func:`torch.random.fork_rng`, so the
caller's global random state is neither read nor changed (as DiffPuter itself does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..._imputer import resolve_device

__all__ = [
    "MinMax",
    "Seeds",
    "build_seeded",
    "non_finite_error",
    "resolve_device",
    "seeded_global",
    "seeds",
]

M = TypeVar("M")


@dataclass
class Seeds:
    """The random sources of one fit.

    Attributes
    ----------
    numpy : numpy.random.Generator
        Row sampling, batch order.
    torch : torch.Generator
        Noise drawn on the training device.
    init : int
        Seed for weight initialisation (:func:`build_seeded`).
    transform : int
        Seed for the randomness of ``transform`` (fixed, so transform is repeatable).
    """

    numpy: np.random.Generator
    torch: torch.Generator
    init: int
    transform: int


def seeds(random_state: Any, device: torch.device) -> Seeds:
    """Derive every random source of a fit from ``random_state`` (int, RandomState, None)."""
    rng = check_random_state(random_state)
    fit, init, transform = (int(s) for s in rng.randint(2**31 - 1, size=3))
    generator = torch.Generator(device=device).manual_seed(fit)
    return Seeds(np.random.default_rng(fit), generator, init, transform)


@contextmanager
def seeded_global(seed: int, device: torch.device) -> Iterator[None]:
    """Run a block with torch's global RNG (CPU, and CUDA on a CUDA device) forked and seeded.

    For code whose randomness only the global stream can feed (``nn.Linear`` init,
    ``Distribution.rsample``): it is reproducible and the caller's state is restored.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def build_seeded(factory: Callable[[], M], seed: int) -> M:
    """Call ``factory`` (which builds modules) with torch's global RNG forked and seeded."""
    with seeded_global(seed, torch.device("cpu")):
        return factory()


class MinMax:
    """Per-column min-max scaling to [0, 1] on the observed cells (GAIN, ReMasker).

    ``(x - min) / (max - min + eps)``, as both authors' codes do; a column with a single
    observed value maps to 0.

    Parameters
    ----------
    x : ndarray of shape (n, D)
        NaN where missing.
    eps : float
    """

    def __init__(self, x: np.ndarray, eps: float = 1e-8):
        observed = ~np.isnan(x)
        has = observed.any(axis=0)
        self.lo = np.where(has, np.min(np.where(observed, x, np.inf), axis=0), 0.0)
        hi = np.where(has, np.max(np.where(observed, x, -np.inf), axis=0), 0.0)
        self.range = hi - self.lo + eps

    def scale(self, x: np.ndarray) -> np.ndarray:
        return (x - self.lo) / self.range

    def unscale(self, u: np.ndarray) -> np.ndarray:
        return u * self.range + self.lo


def non_finite_error(method: str, what: str = "loss") -> FloatingPointError:
    """The error a neural baseline raises when training goes non-finite."""
    return FloatingPointError(
        f"{method}: the training {what} became non-finite; try a smaller learning rate"
    )
