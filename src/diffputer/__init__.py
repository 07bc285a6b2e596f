"""diffputer: missing-value imputation for mixed tables with DiffPuter (ICLR 2025)."""

from ._em import TrainingDivergedWarning
from ._encoding import TableEncoder
from ._imputer import DiffPuterImputer
from ._persistence import ModelFileError
from ._version import __version__
from .config import DEFAULT_PRESET, PRESETS, Preset, get_preset

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "DiffPuterImputer",
    "ModelFileError",
    "Preset",
    "TableEncoder",
    "TrainingDivergedWarning",
    "__version__",
    "get_preset",
]
