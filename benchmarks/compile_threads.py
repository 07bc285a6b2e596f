"""``torch.compile`` and the thread count for the fast preset's network, measured.

For each encoded width D and thread count: milliseconds per E-step network call (a
chunk of ``eval_batch_size`` = 4,096 rows x samples, under ``torch.inference_mode``, as
the sampler calls it) and per M-step training step (a batch of 512 rows: EDM loss,
backward, Adam), for the eager network and for ``torch.compile(net)``; and the seconds
the compiled variant's first calls took beyond the eager ones (tracing and C++ code
generation; with an empty compile cache unless ``--warm-cache``, as on a user's first
fit), so that the number of calls it needs to pay that back can be read off. Each
timing is the median of ``--rounds`` rounds, eager and compiled in alternation, so that
a busy machine moves both alike. Prints one JSON line per (D, threads, phase); asserts nothing.

    python benchmarks/compile_threads.py --widths 9,82 --threads 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import torch

from diffputer._em import denoiser_for, eval_batch_size
from diffputer.config import get_preset
from diffputer.diffusion.loss import EDMLoss


def _seconds(fn, calls: int) -> float:
    """Wall seconds for ``calls`` calls of ``fn``."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def measure(width: int, threads: int, rounds: int, calls: int) -> list[dict]:
    preset = get_preset("fast")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    torch._dynamo.reset()
    eager = denoiser_for(width, preset)
    compiled = torch.compile(eager)  # shares eager's weights
    x = torch.randn(eval_batch_size(preset.sampler, torch.device("cpu")), width) * 0.5
    sigma = torch.tensor([[0.3]])
    batch = torch.randn(preset.train.batch_size, width) * 0.5
    loss = EDMLoss(preset.train.P_mean, preset.train.P_std, preset.model.sigma_data)
    optimizer = torch.optim.Adam(eager.parameters(), lr=preset.train.lr)

    def infer(net):
        def call():
            with torch.inference_mode():
                net(x, sigma)

        return call

    def train(net):
        def step():
            value = loss(net, batch).mean()
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()

        return step

    lines = []
    nets = {"eager": eager, "compiled": compiled}
    for phase, make in (("e_step_call", infer), ("train_step", train)):
        # the first 3 calls: compilation for the compiled network
        warm = {name: _seconds(make(net), 3) for name, net in nets.items()}
        ms: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(rounds):
            for name, net in nets.items():
                ms[name].append(_seconds(make(net), calls) * 1e3 / calls)
        eager_ms, compiled_ms = (statistics.median(ms[k]) for k in ("eager", "compiled"))
        saved = eager_ms - compiled_ms
        first_cost = warm["compiled"] - warm["eager"]  # seconds the first 3 calls cost more
        lines.append(
            dict(width=width, threads=threads, phase=phase)
            | dict(eager_ms=round(eager_ms, 3), compiled_ms=round(compiled_ms, 3))
            | dict(ratio=round(compiled_ms / eager_ms, 3), compile_s=round(first_cost, 2))
            | dict(break_even_calls=round(first_cost * 1e3 / saved) if saved > 0 else None)
            | dict(rounds_ms={k: [round(v, 3) for v in vals] for k, vals in ms.items()})
        )
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", default="9,82", help="encoded widths D, comma-separated")
    p.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=50, help="calls per timed round")
    p.add_argument("--warm-cache", action="store_true", help="keep inductor's on-disk cache")
    args = p.parse_args()
    if not args.warm_cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")
    info = torch.__config__.parallel_info().splitlines()[:3]
    print(json.dumps(dict(torch=torch.__version__, warm_cache=args.warm_cache, parallel=info)))
    for width in (int(w) for w in args.widths.split(",")):
        for threads in (int(t) for t in args.threads.split(",")):
            for line in measure(width, threads, args.rounds, args.calls):
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
