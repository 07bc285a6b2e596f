"""Torch-only diffusion core: network, loss, schedule, sampler, training.

Nothing here knows about pandas, scikit-learn or tables: tensors in, tensors out.
"""

from .conditioning import MaskDraw
from .loss import EDMLoss
from .network import EDMPrecond, MLPBackbone, SinusoidalEmbedding, build_denoiser
from .sampler import (
    conditional_sample,
    guided_calls_per_sample,
    heun_step,
    network_calls_per_sample,
    posterior_mean,
)
from .schedule import karras_sigmas
from .training import TrainResult, fixed_noise, train_denoiser

__all__ = [
    "EDMLoss",
    "EDMPrecond",
    "MaskDraw",
    "MLPBackbone",
    "SinusoidalEmbedding",
    "TrainResult",
    "build_denoiser",
    "conditional_sample",
    "fixed_noise",
    "guided_calls_per_sample",
    "heun_step",
    "karras_sigmas",
    "network_calls_per_sample",
    "posterior_mean",
    "train_denoiser",
]
