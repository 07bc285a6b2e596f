"""Checkpoints of a fit in progress, so that a long EM run survives an interruption.

After every EM iteration, ``checkpoint.dpc`` in the checkpoint directory is replaced
(atomically) by the state needed to go on: the network's weights, the completed table
``z``, the history so far and the torch generator's state, plus a fingerprint of the
encoded data and the settings. A rerun with the same directory resumes after the last
completed iteration and ends with the same result as an uninterrupted run; a rerun with
other data or settings is refused rather than mixed with the old state. The file format
is the model files' (safetensors + JSON, no pickle).

The training optimiser is not saved: every M-step builds a fresh Adam, so an iteration
boundary holds no optimiser state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._em import EMResult
from ._encoding import TableEncoder
from ._persistence import ModelFileError, build_network, read_document, write_document
from ._version import __version__
from .config import Preset

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_VERSION",
    "EMCheckpoint",
    "fingerprint",
    "read_progress",
]

CHECKPOINT_FILE = "checkpoint.dpc"
CHECKPOINT_VERSION = 1  # bump on any change that older readers cannot handle


def fingerprint(
    z: np.ndarray,
    mask: np.ndarray,
    encoder: TableEncoder,
    preset: Preset,
    random_state: Any,
    device: torch.device,
) -> str:
    """SHA-256 of everything that decides a fit's result (not ``eval_workers``).

    An integer ``random_state`` is part of it; ``None`` (or a ``RandomState``) is not, so
    such a run can still be resumed: it continues the interrupted run's random stream.
    """
    seed = int(random_state) if isinstance(random_state, Integral) else None
    # eval_workers is left out (as its default): every chunk draws from its own
    # generator, so any count gives the same imputations, and a fit interrupted on one
    # machine can resume with another count on another
    hashed = dataclasses.replace(
        preset, sampler=dataclasses.replace(preset.sampler, eval_workers=None)
    )
    settings = {
        "preset": hashed.to_dict(),
        "encoder": encoder.to_dict(),
        "random_state": seed,
        "device": device.type,
        "checkpoint_version": CHECKPOINT_VERSION,
    }
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(z, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(mask, dtype=bool).tobytes())
    return h.hexdigest()


class EMCheckpoint:
    """The checkpoint file of one fit: load it to resume, save it after each iteration.

    Parameters
    ----------
    directory : str or Path
        Created if missing. Only ``checkpoint.dpc`` (and its temporary file while it
        is written) is ever written there.
    fingerprint : str
        From :func:`fingerprint`; a checkpoint with another one is refused.
    preset : Preset
        The fit's settings (to rebuild the network).
    generator : torch.Generator
        The fit's generator: saved with every checkpoint, restored by :meth:`load`.
    """

    def __init__(
        self,
        directory: str | Path,
        fingerprint: str,
        preset: Preset,
        generator: torch.Generator,
    ):
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.preset = preset
        self.generator = generator

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def load(self, shape: tuple[int, int], device: torch.device) -> EMResult | None:
        """The saved state (and the generator restored to it), or None to start afresh.

        Parameters
        ----------
        shape : (n, D)
            Shape of the fit's encoded table.
        device : torch.device
            Where the network and table go.

        Raises
        ------
        ValueError
            The checkpoint belongs to another fit (other data, settings or seed).
        ModelFileError
            The file is damaged, foreign or inconsistent.
        """
        self.directory.mkdir(parents=True, exist_ok=True)  # fail now, not after an hour
        if not self.path.exists():
            return None
        document, tensors = read_document(self.path, kind="checkpoint", version=CHECKPOINT_VERSION)
        if document.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"{self.path} is the checkpoint of a different fit (other data, settings, "
                "random_state or device type: a CPU and a GPU draw different random "
                "streams); use another checkpoint directory, or delete this file to start "
                "over"
            )
        try:
            return self._restore(document, tensors, shape, device)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.path}: inconsistent checkpoint ({exc})") from None

    def _restore(
        self,
        document: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        shape: tuple[int, int],
        device: torch.device,
    ) -> EMResult:
        z = tensors.pop("z")
        if tuple(z.shape) != tuple(shape):
            raise ValueError(f"table of shape {tuple(z.shape)}, expected {tuple(shape)}")
        generator_state = tensors.pop("generator_state")
        history = document["history"]
        if not isinstance(history, list) or len(history) != document["iterations_done"]:
            raise ValueError("the history does not match the iterations done")
        weights = {k.removeprefix("net."): v for k, v in tensors.items()}
        net = build_network(shape[1], self.preset, weights).to(device)
        self.generator.set_state(generator_state)
        return EMResult(net, z.to(device), history)

    def save(self, state: EMResult) -> None:
        """Replace the checkpoint by ``state`` (atomically: an interruption keeps the old)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tensors = {f"net.{k}": v for k, v in state.net.state_dict().items()}
        tensors["z"] = state.z
        tensors["generator_state"] = self.generator.get_state()
        document = {
            "diffputer_version": __version__,
            "fingerprint": self.fingerprint,
            "iterations_done": len(state.history),
            "history": state.history,
        }
        write_document(self.path, document, tensors, kind="checkpoint", version=CHECKPOINT_VERSION)


def read_progress(directory: str | Path) -> int:
    """EM iterations completed according to the checkpoint in ``directory`` (0 if none)."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        return 0
    document, _ = read_document(path, kind="checkpoint", version=CHECKPOINT_VERSION)
    return int(document["iterations_done"])
