"""ReMasker (Du, Melis & Wang, ICLR 2024), written here in torch.

A masked autoencoder over the columns of a row. Every cell is a token (its min-max
scaled value through a shared linear embedding, plus a fixed sine-cosine embedding of
its column); during training a random part of the observed cells is *re-masked* on top
of the missing ones; a transformer encoder sees the cells left visible (and a class
token), a transformer decoder sees the encoded visible cells and a learned mask token
at every other position, and predicts every cell through ``tanh(.) / 2 + 1/2``. The loss
is the mean squared error on the re-masked cells plus that on the visible cells. At
imputation every observed cell is visible and the prediction fills the missing ones.

Follows the authors' code (github.com/tydusky/remasker, ``model_mae.py``,
``remasker_impute.py``) as the DiffPuter authors ran it (their
``baselines/remasker``); the differences are listed in :class:`ReMaskerBaseline`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import BinaryCodec, MixedImputer, OneHotCodec
from ._torch_common import MinMax, build_seeded, non_finite_error, resolve_device, seeds

__all__ = ["ReMaskerBaseline"]

_LN_EPS = 1e-8  # the authors' norm_layer = partial(nn.LayerNorm, eps=1e-8)


def _sincos(n_positions: int, dim: int) -> torch.Tensor:
    """Fixed 1-d sine-cosine position embeddings, shape (1, n_positions + 1, dim), row 0 = 0."""
    omega = 1.0 / 10_000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = torch.arange(n_positions, dtype=torch.float64)[:, None] * omega[None, :]
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float()[None]


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.ModuleList:
    """Pre-norm transformer blocks (timm's ViT ``Block``: qkv bias, GELU MLP, no dropout)."""
    return nn.ModuleList(
        nn.TransformerEncoderLayer(
            dim,
            heads,
            dim_feedforward=int(dim * mlp_ratio),
            dropout=0.0,
            activation="gelu",
            layer_norm_eps=_LN_EPS,
            batch_first=True,
            norm_first=True,
        )  # fmt: skip
        for _ in range(depth)
    )


class _MaskedAutoencoder(nn.Module):
    def __init__(self, n_cols: int, dim: int, depth: int, dec_depth: int, heads: int, mlp: float):
        super().__init__()
        self.embed = nn.Linear(1, dim)  # the authors' Conv1d(1, dim, kernel_size=1)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos", _sincos(n_cols, dim), persistent=False)
        self.encoder = _blocks(dim, depth, heads, mlp)
        self.norm = nn.LayerNorm(dim, eps=_LN_EPS)
        self.decoder_embed = nn.Linear(dim, dim)
        self.decoder = _blocks(dim, dec_depth, heads, mlp)
        self.decoder_norm = nn.LayerNorm(dim, eps=_LN_EPS)
        self.head = nn.Linear(dim, 1)
        for module in self.modules():  # the authors' init: xavier-uniform, LayerNorm (1, 0)
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, u: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Predict every cell of ``u`` (n, L) in [0, 1] from its ``visible`` cells (bool)."""
        n, n_cols = u.shape
        tokens = self.embed(u.unsqueeze(-1)) + self.pos[:, 1:]
        # As MAE: the encoder sees only the visible tokens (and the class token). Each
        # row's visible columns, in column order, go first; rows with fewer than the
        # most visible cells are padded, and the padding is masked out of attention.
        width = int(visible.sum(1).max()) if n else 0
        kept = torch.argsort((~visible).to(torch.uint8), dim=1, stable=True)[:, :width]
        padding = ~torch.gather(visible, 1, kept)
        h = torch.gather(tokens, 1, kept.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        cls = (self.cls_token + self.pos[:, :1]).expand(n, -1, -1)
        h = torch.cat([cls, h], dim=1)
        mask = torch.cat([torch.zeros_like(padding[:, :1]), padding], dim=1)
        mask = mask if bool(padding.any()) else None
        for block in self.encoder:
            h = block(h, src_key_padding_mask=mask)
        h = self.decoder_embed(self.norm(h))
        # back to every column: the encoded visible tokens where they came from (row by
        # row in column order, as ``kept`` lists them), the mask token elsewhere
        cells = self.mask_token.to(h.dtype).expand(n, n_cols, -1)
        slots = visible.unsqueeze(-1).expand_as(cells)
        cells = cells.masked_scatter(slots, h[:, 1:][~padding])
        h = torch.cat([h[:, :1], cells], dim=1) + self.pos
        for block in self.decoder:
            h = block(h)
        return torch.tanh(self.head(self.decoder_norm(h))[:, 1:, 0]) / 2 + 0.5


def _remask(observed: torch.Tensor, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """Visible cells for one training batch: a random ``floor(L (1 - ratio))`` observed ones.

    As the authors' ``random_masking``: random scores with missing cells last, keep the
    lowest ``floor(L (1 - ratio))``. Rows with fewer observed cells keep all of them (the
    authors' code then also keeps some missing cells, as zeros; we do not).
    """
    n, cols = observed.shape
    score = torch.rand(observed.shape, generator=generator, device=observed.device)
    score = torch.where(observed, score, torch.full_like(score, 2.0))
    rank = torch.argsort(torch.argsort(score, dim=1), dim=1)
    return observed & (rank < int(cols * (1 - ratio)))


class ReMaskerBaseline(MixedImputer):
    """Masked-autoencoding imputation with re-masking.

    Every encoded column is a token, min-max scaled to [0, 1] (the authors' scaling).
    The authors' code takes numbers only; categorical columns are fed as the DiffPuter
    authors fed them (``baselines/data_utils.py``): the binary digits of the category's
    code, one token per digit (:class:`BinaryCodec`), so a column of ``k`` categories
    costs ``ceil(log2 k)`` tokens instead of ``k``. ``categorical_encoding="onehot"``
    gives the encoding the other baselines share (one token per category, decoded by
    argmax).

    Defaults are the authors' code defaults (``utils.get_args_parser``), which the
    DiffPuter authors ran for every dataset. The ReMasker paper's App. A.2 recommends the
    setting tuned on Letter (``embed_dim=64, depth=8, decoder_depth=6`` in the authors'
    per-dataset configs); pass those to use it. Differences from the authors' code:
    fp32 instead of CUDA mixed precision; cells that are missing are never fed to the
    encoder, not even as zeros (see :func:`_remask`); the visible-cell loss covers
    observed cells only; imputation runs in batches instead of one row at a time (same
    result, rows are independent).

    Parameters
    ----------
    embed_dim : int, default=32
    depth : int, default=6
        Encoder blocks.
    decoder_depth : int, default=4
    num_heads : int, default=4
    mlp_ratio : float, default=4.0
    mask_ratio : float, default=0.5
        Training keeps ``floor(L (1 - mask_ratio))`` observed cells of ``L`` visible.
    max_epochs : int, default=600
    batch_size : int, default=64
    lr : float, default=1e-3
        Peak learning rate (the authors' ``blr * batch_size / 64``).
    min_lr : float, default=1e-5
    warmup_epochs : int, default=40
        Linear warm-up, then half-cycle cosine decay to ``min_lr``, updated every step.
    weight_decay : float, default=0.01
        AdamW's, betas (0.9, 0.95); the authors' code builds AdamW without passing its
        ``--weight_decay`` (0.05), so PyTorch's default 0.01 applies.
    categorical_encoding : {"binary", "onehot"}, default="binary"
        How a categorical column becomes tokens (see above).
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    model_ : torch.nn.Module
    loss_history_ : list of float
        Mean training loss per epoch.
    """

    _parameter_constraints: dict = {
        "embed_dim": [Interval(Integral, 2, None, closed="left")],
        "depth": [Interval(Integral, 1, None, closed="left")],
        "decoder_depth": [Interval(Integral, 1, None, closed="left")],
        "num_heads": [Interval(Integral, 1, None, closed="left")],
        "mlp_ratio": [Interval(Real, 0, None, closed="neither")],
        "mask_ratio": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "min_lr": [Interval(Real, 0, None, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "categorical_encoding": [StrOptions({"binary", "onehot"})],
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        embed_dim: int = 32,
        depth: int = 6,
        decoder_depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        mask_ratio: float = 0.5,
        max_epochs: int = 600,
        batch_size: int = 64,
        lr: float = 1e-3,
        min_lr: float = 1e-5,
        warmup_epochs: int = 40,
        weight_decay: float = 0.01,
        categorical_encoding: str = "binary",
        device: str = "auto",
        random_state: Any = None,
    ):
        self.embed_dim = embed_dim
        self.depth = depth
        self.decoder_depth = decoder_depth
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.mask_ratio = mask_ratio
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.min_lr = min_lr
        self.warmup_epochs = warmup_epochs
        self.weight_decay = weight_decay
        self.categorical_encoding = categorical_encoding
        self.device = device
        self.random_state = random_state

    def _make_codec(self) -> OneHotCodec:
        return BinaryCodec() if self.categorical_encoding == "binary" else OneHotCodec()

    def _lr_at(self, epoch: float) -> float:
        """The authors' ``adjust_learning_rate``: linear warm-up, then half-cycle cosine."""
        if epoch < self.warmup_epochs:
            return self.lr * epoch / self.warmup_epochs
        span = max(self.max_epochs - self.warmup_epochs, 1)
        cosine = 0.5 * (1.0 + math.cos(math.pi * (epoch - self.warmup_epochs) / span))
        return self.min_lr + (self.lr - self.min_lr) * cosine

    def _fit_impute(self, x: np.ndarray) -> np.ndarray:
        if self.embed_dim % 2 or self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim must be even and divisible by num_heads; got embed_dim="
                f"{self.embed_dim}, num_heads={self.num_heads}"
            )
        device = resolve_device(self.device)
        self._seeds = seeds(self.random_state, device)
        self.scaler_ = MinMax(x)
        u = torch.from_numpy(np.nan_to_num(self.scaler_.scale(x))).float().to(device)
        observed = torch.from_numpy(~np.isnan(x)).to(device)
        model = build_seeded(
            lambda: _MaskedAutoencoder(
                x.shape[1], self.embed_dim, self.depth, self.decoder_depth, self.num_heads,
                self.mlp_ratio,
            ).to(device),
            self._seeds.init,
        )  # fmt: skip
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=self.lr, betas=(0.9, 0.95), weight_decay=self.weight_decay
        )
        self.loss_history_ = [
            self._epoch(model, optimizer, u, observed, e) for e in range(self.max_epochs)
        ]
        self.model_ = model.eval()
        return self._impute(x)

    def _epoch(self, model, optimizer, u, observed, epoch: int) -> float:
        model.train()
        n = len(u)
        order = torch.from_numpy(self._seeds.numpy.permutation(n)).to(u.device)
        batches = torch.split(order, self.batch_size)
        total = 0.0
        for i, rows in enumerate(batches):
            for group in optimizer.param_groups:  # per-step schedule, as the authors'
                group["lr"] = self._lr_at(epoch + i / len(batches))
            u_b, obs_b = u[rows], observed[rows]
            visible = _remask(obs_b, self.mask_ratio, self._seeds.torch)
            err = (model(u_b, visible) - u_b) ** 2
            remasked, shown = obs_b & ~visible, visible
            loss = (err * remasked).sum() / remasked.sum().clamp_min(1)
            loss = loss + (err * shown).sum() / shown.sum().clamp_min(1)
            if not torch.isfinite(loss):
                raise non_finite_error("ReMasker")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().item() * len(rows)
        return total / n

    @torch.no_grad()
    def _impute(self, x: np.ndarray) -> np.ndarray:
        device = next(self.model_.parameters()).device
        u = torch.from_numpy(np.nan_to_num(self.scaler_.scale(x))).float()
        observed = torch.from_numpy(~np.isnan(x))
        pred = torch.cat(
            [
                self.model_(u[s : s + 4096].to(device), observed[s : s + 4096].to(device)).cpu()
                for s in range(0, len(u), 4096)
            ]
        )
        return np.where(np.isnan(x), self.scaler_.unscale(pred.double().numpy()), x)

    def _impute_new(self, x: np.ndarray) -> np.ndarray:
        return self._impute(x)
