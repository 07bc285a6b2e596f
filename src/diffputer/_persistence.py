"""Model files: one safetensors file whose header metadata holds a JSON document.

The JSON holds the estimator's parameters, the resolved settings, the encoder's state,
the package version and a format version; the tensors are the denoiser's weights. A
SHA-256 over the JSON and every tensor detects edits. Nothing in the file is ever
executed: safetensors is a flat tensor format and the rest is parsed as JSON.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from sklearn.utils.validation import check_is_fitted

from ._encoding import TableEncoder
from ._io import atomic_write
from ._version import __version__
from .config import Preset
from .diffusion import build_denoiser

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "load_model", "save_model"]

FORMAT = "diffputer-model"
FORMAT_VERSION = 1  # bump on any change that older readers cannot handle


class ModelFileError(ValueError):
    """A file is not a readable diffputer model (foreign, truncated, edited or too new)."""


def _digest(payload: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(payload.encode())
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if not (out["random_state"] is None or isinstance(out["random_state"], int)):
        out["random_state"] = None  # a RandomState instance cannot be stored as data
    if out["categorical_columns"] is not None:
        out["categorical_columns"] = list(out["categorical_columns"])
    return out


def save_model(estimator: Any, path: str | Path) -> None:
    """Write a fitted estimator to ``path`` atomically (temp file, then rename)."""
    check_is_fitted(estimator)
    document = {
        "diffputer_version": __version__,
        "params": _json_params(estimator.get_params()),
        "preset": estimator.preset_.to_dict(),
        "encoder": estimator.encoder_.to_dict(),
        "n_features_in": estimator.n_features_in_,
        "feature_names_in": (
            list(estimator.feature_names_in_) if hasattr(estimator, "feature_names_in_") else None
        ),
        "n_iter": estimator.n_iter_,
        "history": estimator.history_,
    }
    try:
        payload = json.dumps(document, allow_nan=True)
    except TypeError as exc:
        raise ValueError(
            f"cannot save this model: {exc}. Column labels and categories must be "
            "strings, numbers or booleans"
        ) from None
    tensors = {
        k: v.detach().cpu().contiguous() for k, v in estimator.denoiser_.state_dict().items()
    }
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "payload": payload,
        "sha256": _digest(payload, tensors),
    }
    data = st_save(tensors, metadata=metadata)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def _read_metadata(data: bytes) -> dict[str, str]:
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    return header.get("__metadata__") or {}


def load_model(cls: type, path: str | Path, device: str | None = None) -> Any:
    """Read a model written by :func:`save_model` into a fitted ``cls`` instance."""
    path = Path(path)
    data = path.read_bytes()
    try:
        tensors = st_load(data)
        metadata = _read_metadata(data)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(
            f"{path} is not a readable diffputer model file (truncated or not safetensors): {exc}"
        ) from None
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is a safetensors file but not a diffputer model")
    try:
        version = int(metadata["format_version"])
    except (KeyError, ValueError):
        raise ModelFileError(f"{path}: the model file has no valid format version") from None
    payload = metadata.get("payload", "")
    if version > FORMAT_VERSION:
        written_by = _peek_version(payload)
        raise ModelFileError(
            f"{path} was written by diffputer {written_by} in model format {version}; this "
            f"diffputer {__version__} reads formats up to {FORMAT_VERSION}. Upgrade diffputer."
        )
    if metadata.get("sha256") != _digest(payload, tensors):
        raise ModelFileError(f"{path}: checksum mismatch, the file was modified or damaged")
    try:
        return _rebuild(cls, json.loads(payload), tensors, device)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: inconsistent model file ({exc})") from None


def _peek_version(payload: str) -> str:
    try:
        return str(json.loads(payload)["diffputer_version"])
    except Exception:
        return "(unknown version)"


def _rebuild(cls: type, doc: dict[str, Any], tensors: dict[str, torch.Tensor], device: str | None):
    from ._imputer import resolve_device

    params = doc["params"]
    if device is not None:
        params["device"] = device
    est = cls(**params)
    est.preset_ = Preset.from_dict(doc["preset"])
    est.encoder_ = TableEncoder.from_dict(doc["encoder"])
    net = build_denoiser(
        est.encoder_.n_encoded, est.preset_.model.hidden_dim, est.preset_.model.sigma_data
    )
    net.load_state_dict(tensors, strict=True)
    est.denoiser_ = net.to(resolve_device(est.device)).eval()
    est.n_features_in_ = int(doc["n_features_in"])
    if doc["feature_names_in"] is not None:
        est.feature_names_in_ = np.asarray(doc["feature_names_in"], dtype=object)
    est.n_iter_ = int(doc["n_iter"])
    est.history_ = doc["history"]
    return est
