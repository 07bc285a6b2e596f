"""Milliseconds per M-step training step with Adam's loop, multi-tensor and fused kernels.

The fast preset's network (width 128) on a random batch of 512 rows x 9 columns, one
thread, 100 timed steps per variant after 5 warm-up steps, the variants twice in
alternation. Prints one line per run; asserts nothing.

    python benchmarks/m_step_optimizer.py
"""

import time

import torch

from diffputer.diffusion import build_denoiser
from diffputer.diffusion.loss import EDMLoss

torch.set_num_threads(1)
torch.manual_seed(0)
net = build_denoiser(9, 128, 0.5)
x = torch.randn(512, 9) * 0.5
loss = EDMLoss()
for variant in ["loop", "foreach", "fused"] * 2:
    options = {} if variant == "loop" else {variant: True}
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, **options)

    def step(optimizer=optimizer):
        value = loss(net, x).mean()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(100):
        step()
    print(f"{variant}: {(time.perf_counter() - start) * 10:.2f} ms per step", flush=True)
