"""Model files: one safetensors file whose header metadata holds a JSON document.

The JSON holds the estimator's parameters, the resolved settings, the encoder's state,
the package version and a format version; the tensors are the denoiser's weights. A
SHA-256 over the JSON and every tensor detects edits. Nothing in the file is ever
executed: safetensors is a flat tensor format and the rest is parsed as JSON. The
checksum catches accidents, not forgery; a deliberately edited file can at worst hold
bad weights, and its settings are still checked against its tensors' shapes before a
network is built. Checkpoints (``_checkpoint.py``) use the same container.
"""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from sklearn.utils.validation import check_is_fitted

from ._em import denoiser_for
from ._encoding import TableEncoder, _python_scalar
from ._io import atomic_write
from ._version import __version__
from .config import Preset

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "build_network",
    "load_model",
    "read_document",
    "save_model",
    "write_document",
]

FORMAT = "diffputer-model"  # the ``format`` field of a model file
FORMAT_VERSION = 1  # bump on any change that older readers cannot handle


class ModelFileError(ValueError):
    """A file is not a readable diffputer model or checkpoint (foreign, truncated, edited
    or too new)."""


def _digest(payload: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(payload.encode())
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def write_document(
    path: str | Path,
    document: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    *,
    kind: str,
    version: int,
) -> None:
    """Write ``tensors`` and the JSON ``document`` as one safetensors file, atomically.

    ``kind`` names the file's purpose (``"model"``, ``"checkpoint"``); the file's
    ``format`` field is ``diffputer-<kind>``.

    Raises
    ------
    ValueError
        If ``document`` holds something JSON cannot store (e.g. a Timestamp label).
    """
    try:
        payload = json.dumps(document, allow_nan=True)
    except TypeError as exc:
        raise ValueError(
            f"cannot save this {kind}: {exc}. Column labels and categories must be "
            "strings, numbers or booleans"
        ) from None
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {
        "format": f"diffputer-{kind}",
        "format_version": str(version),
        "payload": payload,
        "sha256": _digest(payload, tensors),
    }
    data = st_save(tensors, metadata=metadata)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def read_document(
    path: str | Path, *, kind: str, version: int
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a file written by :func:`write_document`: its JSON document and tensors.

    Nothing in the file is executed. Every problem is a :class:`ModelFileError` that
    says what is wrong: not safetensors or truncated, another format, a newer format
    version, a checksum mismatch (edited or damaged), or a payload that is not JSON.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        tensors = st_load(data)
        metadata = _read_metadata(data)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(
            f"{path} is not a readable diffputer {kind} file (truncated or not safetensors): {exc}"
        ) from None
    if metadata.get("format") != f"diffputer-{kind}":
        found = metadata.get("format")
        what = f"a {found!r} file" if isinstance(found, str) else "another kind of file"
        raise ModelFileError(f"{path} is a safetensors file but not a diffputer {kind} ({what})")
    try:
        file_version = int(metadata["format_version"])
    except (KeyError, TypeError, ValueError):
        file_version = 0
    if file_version < 1:
        raise ModelFileError(f"{path}: the {kind} file has no valid format version")
    payload = metadata.get("payload")
    if not isinstance(payload, str):
        raise ModelFileError(f"{path}: the {kind} file has no JSON payload")
    if file_version > version:
        raise ModelFileError(
            f"{path} was written by diffputer {_peek_version(payload)} in {kind} "
            f"format {file_version}; this diffputer {__version__} reads formats up to "
            f"{version}. Upgrade diffputer."
        )
    if metadata.get("sha256") != _digest(payload, tensors):
        raise ModelFileError(f"{path}: checksum mismatch, the file was modified or damaged")
    try:
        document = json.loads(payload)
    except ValueError as exc:
        raise ModelFileError(f"{path}: the {kind} payload is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: the {kind} payload is not a JSON object")
    return document, tensors


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if not (out["random_state"] is None or isinstance(out["random_state"], int)):
        out["random_state"] = None  # a RandomState instance cannot be stored as data
    if out["categorical_columns"] is not None:  # numpy scalars as Python ones
        out["categorical_columns"] = [_python_scalar(c) for c in out["categorical_columns"]]
    if isinstance(out["preset"], Preset):  # custom settings, stored as data
        out["preset"] = out["preset"].to_dict()
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
        # labels that are not strings (None: strings, checked as feature_names_in, or
        # an array); a MultiIndex's tuples come back as lists, which the check accepts
        "column_labels": getattr(estimator, "_column_labels_", None),
        "n_iter": estimator.n_iter_,
        "history": estimator.history_,
    }
    tensors = estimator.denoiser_.state_dict()
    write_document(path, document, tensors, kind="model", version=FORMAT_VERSION)


def _read_metadata(data: bytes) -> dict[str, str]:
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def load_model(cls: type, path: str | Path, device: str | None = None) -> Any:
    """Read a model written by :func:`save_model` into a fitted ``cls`` instance."""
    from ._imputer import cuda_missing, resolve_device

    document, tensors = read_document(path, kind="model", version=FORMAT_VERSION)
    try:
        est = _rebuild(cls, document, tensors)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: inconsistent model file ({exc})") from None
    if device is not None:
        est.set_params(device=device)
    elif cuda_missing(est.device):
        # fitted on a GPU, loaded where there is none: the model is the same on a CPU
        warnings.warn(
            f"{path} was fitted with device={est.device!r}, which is not available here; "
            "loading it on the CPU (pass device= to choose)",
            UserWarning,
            stacklevel=3,
        )
        est.set_params(device="cpu")
    est.denoiser_ = est.denoiser_.to(resolve_device(est.device)).eval()
    return est


def _peek_version(payload: str) -> str:
    try:
        return str(json.loads(payload)["diffputer_version"])
    except Exception:
        return "(unknown version)"


def check_shapes(n_features: int, preset: Preset, tensors: dict[str, torch.Tensor]) -> None:
    """Refuse weights that do not fit the network ``preset`` describes, before building it.

    The expected shapes come from a network on the ``meta`` device (no memory), so an
    edited file asking for a huge network fails here instead of exhausting memory.
    """
    with torch.device("meta"):
        expected = denoiser_for(n_features, preset)
    shapes = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if shapes != found:
        wrong = sorted(set(shapes.items()) ^ set(found.items()))[:3]
        raise ValueError(f"the weights do not fit the network the settings describe: {wrong}")


def build_network(n_features: int, preset: Preset, tensors: dict[str, torch.Tensor]):
    """The denoiser with ``tensors`` as weights (the global RNG is left untouched)."""
    check_shapes(n_features, preset, tensors)
    with torch.random.fork_rng(devices=[]):
        net = denoiser_for(n_features, preset)
    net.load_state_dict(tensors, strict=True)
    return net


def _rebuild(cls: type, doc: dict[str, Any], tensors: dict[str, torch.Tensor]):
    params = dict(doc["params"])
    if isinstance(params.get("preset"), dict):
        params["preset"] = Preset.from_dict(params["preset"])
    est = cls(**params)
    est._validate_params()
    est.preset_ = Preset.from_dict(doc["preset"])
    est.encoder_ = TableEncoder.from_dict(doc["encoder"])
    est.denoiser_ = build_network(est.encoder_.n_encoded, est.preset_, tensors)
    est.n_features_in_ = int(doc["n_features_in"])
    if est.n_features_in_ != len(est.encoder_.columns_):
        raise ValueError("the encoder's columns do not match n_features_in")
    if doc["feature_names_in"] is not None:
        est.feature_names_in_ = np.asarray(doc["feature_names_in"], dtype=object)
    labels = doc.get("column_labels")  # absent from older files: not checked
    if labels is not None and (not isinstance(labels, list) or len(labels) != est.n_features_in_):
        raise ValueError("the column labels do not match n_features_in")
    est._column_labels_ = labels
    est.n_iter_ = int(doc["n_iter"])
    est.history_ = doc["history"]
    return est
