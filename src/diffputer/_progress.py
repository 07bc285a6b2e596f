"""Progress bars on stderr (tqdm), shown only when asked for with ``verbose``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from tqdm.auto import tqdm

__all__ = ["Progress", "progress_bar"]


class Progress:
    """Bars for EM iterations, epochs and sampled rows.

    Parameters
    ----------
    verbose : int
        0: silent. 1: a bar per M-step and E-step (on a terminal only). 2: also a line
        per EM iteration.
    """

    def __init__(self, verbose: int, file: Any = None):
        self.verbose = verbose
        self.file = file if file is not None else sys.stderr

    @contextmanager
    def bar(self, unit: str, total: int, desc: str) -> Iterator[Callable[..., None]]:
        # disable=None: bars only on a terminal, never in logs or pipes
        with tqdm(
            total=total, desc=desc, unit=unit, file=self.file, leave=False, disable=None
        ) as pbar:
            if unit == "epochs":

                def update(epoch: int, train_loss: float, monitored: float) -> None:
                    pbar.update(1)
                    pbar.set_postfix(loss=f"{train_loss:.4f}", monitored=f"{monitored:.4f}")

            else:

                def update(n: int) -> None:
                    pbar.update(n)

            yield update

    def iteration_done(self, record: dict[str, Any]) -> None:
        if self.verbose >= 2:
            print(
                f"EM iteration {record['iteration']}: {record['epochs']} epochs, "
                f"loss {record['train_loss']:.4f}, M-step {record['m_step_seconds']:.1f}s, "
                f"E-step {record['e_step_seconds']:.1f}s, "
                f"mean |change| {record['mean_abs_change']:.4f}",
                file=self.file,
            )


def progress_bar(progress: Progress | None, unit: str, total: int, desc: str):
    """``progress.bar(...)``, or a context yielding ``None`` when silent."""
    if progress is None:
        return nullcontext(None)
    return progress.bar(unit, total, desc)
