"""Training masks for a conditional denoiser (not in the paper; CSDI-style).

A conditional denoiser learns ``p(x_target | x_known)`` from the table itself: every
training row hides a random share of its columns (drawn per row, uniform on
``[0, max_rate]``), the network reads the other, known, cells and is scored on the
hidden ones. Cells missing in the data are never known (the E-step will not know them
either), and they are scored only when ``observed_only`` is off (then against their
current imputations, as in EM). The columns of one table column (a categorical's
one-hot block) are hidden together, as the data hides them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["MaskDraw"]


@dataclass
class MaskDraw:
    """Draws (known, weight) masks for batches of training rows.

    Attributes
    ----------
    missing : bool Tensor of shape (n, D)
        True where the training table's cell is missing.
    groups : long Tensor of shape (D,)
        The table column of every encoded column (0 .. C-1).
    max_rate : float
        Upper end of the per-row share of columns hidden.
    observed_only : bool
        Score only the hidden cells that were observed (otherwise the missing ones too).
    """

    missing: torch.Tensor
    groups: torch.Tensor
    max_rate: float
    observed_only: bool = True

    def __post_init__(self) -> None:
        # once, not per batch: .max() would wait for the GPU at every training step
        self.groups = self.groups.to(self.missing.device)
        self.n_columns = int(self.groups.max()) + 1

    def __call__(
        self, rows: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(known, weight)`` for training rows ``rows``, float tensors of shape (b, D)."""
        missing = self.missing[rows]
        device = missing.device
        rate = torch.rand((len(rows), 1), generator=generator, device=device) * self.max_rate
        hide = torch.rand((len(rows), self.n_columns), generator=generator, device=device) < rate
        target = hide[:, self.groups] | missing
        weight = target & ~missing if self.observed_only else target
        return (~target).float(), weight.float()
