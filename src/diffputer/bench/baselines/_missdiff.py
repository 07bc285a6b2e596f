"""MissDiff (Ouyang, Xie & Cheng 2023): a diffusion model trained on incomplete data with
the denoising loss masked to the observed cells, and no EM.

The DiffPuter paper (Sec. 2, App. D.5) adapts MissDiff to imputation with its own
implementation, as the authors published none. Ours is DiffPuter's machinery with the
EM loop taken out, so that the two differ in exactly what the paper credits EM with:

- the same encoding (:class:`~diffputer.TableEncoder` with the preset's encoding
  settings, e.g. the ``fast`` preset's ``numeric_transform="auto"``), the same
  denoiser (:func:`~diffputer.diffusion.build_denoiser`, EDM preconditioning), the
  same EDM loss and M-step (``diffputer._em.m_step``, which wraps
  :func:`~diffputer.diffusion.train_denoiser`), all settings from a DiffPuter preset;
- training data: the table with missing cells at the column mean (0 in the scaled
  space), trained **once**, with per-cell loss weight 1 on observed cells and 0 on
  missing ones (``observed_only=True``): the missing cells are never targets;
- imputation: **one** E-step, DiffPuter's conditional sampler (mean of ``num_samples``
  conditional samples), on the training rows (in-sample) or on new rows
  (out-of-sample).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions

from ..._em import TrainingDivergedWarning, _new_denoiser, e_step, m_step
from ..._encoding import SCALE
from ..._imputer import OVERRIDES, DiffPuterImputer, _bounds, _median_columns, resolve_device
from ...config import PRESETS, Preset, get_preset
from ._base import MixedImputer, OneHotCodec
from ._torch_common import non_finite_error

__all__ = ["MissDiffBaseline"]

# DiffPuterImputer's preset overrides, less those of the EM loop (there is none)
_OVERRIDES = tuple(name for name in OVERRIDES if name not in {"n_em_iter", "warm_start"})


class MissDiffBaseline(MixedImputer):
    """DiffPuter without EM: one training on observed cells, one E-step.

    Parameters
    ----------
    preset : {"fast", "paper"}, default="fast"
        The DiffPuter preset whose encoding, network, training and sampler settings are
        used (its EM settings are not: there is no EM). The default matches
        ``DiffPuterImputer``'s, so the two differ only by EM and the loss mask;
        ``"paper"`` gives the paper's settings (width 1024, up to 10,001 epochs, 50
        levels x 20 repeats x 10 samples).
    num_samples, num_steps, resample_repeats, hidden_dim, max_epochs, batch_size : int
    lr, patience, rows_per_m_step, ema_decay, final_num_samples, aggregate : default=None
    numeric_transform, guidance : default=None
        Override the preset (None: the preset's value), as for ``DiffPuterImputer``:
        every override of the imputer except the EM loop's (``n_em_iter``,
        ``warm_start``).
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    denoiser_ : torch.nn.Module
    preset_ : Preset
        The settings used.
    train_result_ : dict
        The M-step's record of the single training (epochs, losses).
    """

    _parameter_constraints: dict = {
        # the unconditional denoiser's presets (MissDiff is defined by that denoiser)
        "preset": [StrOptions(set(PRESETS) - {"conditional"})],
        **{name: DiffPuterImputer._parameter_constraints[name] for name in _OVERRIDES},
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        preset: str = "fast",
        num_samples: int | None = None,
        num_steps: int | None = None,
        resample_repeats: int | None = None,
        hidden_dim: int | None = None,
        max_epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        patience: int | None = None,
        rows_per_m_step: int | None = None,
        ema_decay: float | None = None,
        final_num_samples: int | None = None,
        aggregate: str | None = None,
        numeric_transform: str | None = None,
        guidance: float | None = None,
        device: str = "auto",
        random_state: Any = None,
    ):
        self.preset = preset
        self.num_samples = num_samples
        self.num_steps = num_steps
        self.resample_repeats = resample_repeats
        self.hidden_dim = hidden_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.rows_per_m_step = rows_per_m_step
        self.ema_decay = ema_decay
        self.final_num_samples = final_num_samples
        self.aggregate = aggregate
        self.numeric_transform = numeric_transform
        self.guidance = guidance
        self.device = device
        self.random_state = random_state

    def _settings(self) -> Preset:
        preset = get_preset(self.preset).replace(**{k: getattr(self, k) for k in _OVERRIDES})
        # the preset's ``train`` settings at every width, in float32 (its narrow
        # networks' larger batches and both widths' bf16 training were measured inside
        # DiffPuter's EM loop, not for MissDiff's one fit)
        train = dataclasses.replace(preset.train, train_precision="fp32")
        return dataclasses.replace(preset, train=train, narrow_train=None)

    def _make_codec(self) -> OneHotCodec:
        return OneHotCodec(**dataclasses.asdict(self._settings().encoding))

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        self.preset_ = preset = self._settings()
        device = resolve_device(self.device)
        fit_seed, self._transform_seed = check_random_state(self.random_state).randint(
            2**31 - 1, size=2
        )
        generator = torch.Generator(device=device).manual_seed(int(fit_seed))
        z, mask = self._scaled(x, device)
        self.denoiser_ = _new_denoiser(z.shape[1], preset, generator).to(device)
        self.train_result_ = self._train(z, mask, generator)
        return self._e_step(x, z, mask, generator)

    @staticmethod
    def _scaled(x: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's space (missing cells at 0 = the observed mean) and the mask."""
        missing = np.isnan(x)
        z = torch.from_numpy((np.where(missing, 0.0, x) * SCALE).astype(np.float32))
        return z.to(device), torch.from_numpy(missing).to(device)

    def _train(self, z: torch.Tensor, mask: torch.Tensor, generator: torch.Generator):
        """The single training: DiffPuter's M-step with the loss on observed cells only."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingDivergedWarning)  # raised below instead
            record = m_step(
                self.denoiser_, z, mask, self.preset_.train, generator=generator,
                observed_only=True,  # MissDiff: a missing cell is never a target
            )  # fmt: skip
        if record["kept_previous"]:
            raise non_finite_error("MissDiff")
        self.denoiser_.eval()
        return record

    def _e_step(
        self, x: np.ndarray, z: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> np.ndarray:
        """One E-step of DiffPuter's sampler; back to z units (std 1)."""
        encoder = self.codec_.encoder
        out = e_step(
            self.denoiser_,
            z,
            mask,
            self.preset_.sampler,
            generator=generator,
            bounds=_bounds(encoder, z.device),  # used when the preset clamps
            median_columns=_median_columns(encoder, z.device),
        )
        return np.where(np.isnan(x), out.double().cpu().numpy() / SCALE, x)

    def _impute_new(self, x: np.ndarray) -> np.ndarray:
        device = next(self.denoiser_.parameters()).device
        generator = torch.Generator(device=device).manual_seed(int(self._transform_seed))
        z, mask = self._scaled(x, device)
        return self._e_step(x, z, mask, generator)
