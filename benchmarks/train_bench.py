"""Train-step benchmark: the step's achieved model FLOP/s against the FLOP/s of a plain jitted
matmul measured in the same run (the machine's attainable peak for this kind of work).

Model FLOPs are counted the standard way (model/flops.py: forward and backward matmuls of the
trained part, forward only for the frozen ViT); XLA's own count of the compiled step
(``cost_analysis``, elementwise ops included) is reported beside it. The config is one where
matmuls dominate (d_model 512, 4 + 4 layers, batch 32); ``--config`` takes another.

    python -m benchmarks.train_bench [--json] [--config NAME:k=v,…] [--steps N]

Prints a summary (or one JSON line) and writes ``results/train.json``.
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.output import add_output_args, save
from model import sharding
from model.configs import get_config
from model.data import random_batch
from model.flops import step_flops
from model.train import create_state, jit_step

BENCH_CONFIG = ("demo:d_model=512,enc_layers=4,dec_layers=4,heads=8,mlp_dim=2048,batch_size=32,"
                "mesh_data=-1")
MATMUL = 2048  # the anchor: (2048 × 2048) @ (2048 × 2048) in float32


def _time(fn, reps: int) -> float:
    """Seconds a call, after one warm-up call (compilation)."""
    jax.block_until_ready(fn())
    start = time.perf_counter()
    for _ in range(reps):
        out = fn()
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / reps


def matmul_flops_per_s(reps: int = 10) -> float:
    a = jnp.asarray(np.random.default_rng(0).normal(size=(MATMUL, MATMUL)), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    return 2 * MATMUL ** 3 / _time(lambda: f(a, a), reps)


def train_step_rate(config, steps: int) -> dict:
    mesh = sharding.make_mesh(config)
    state = create_state(config, warn=False, mesh=mesh)
    step = jit_step(mesh, state, config.grad_accum)
    batch = jax.device_put(random_batch(config, config.batch_size),
                           sharding.batch_sharding(mesh))
    xla = step.lower(state, batch).compile().cost_analysis()
    xla = xla[0] if isinstance(xla, list) else xla
    holder = {"state": state}

    def one():
        holder["state"], loss = step(holder["state"], batch)
        return loss

    seconds = _time(one, steps)
    # cost_analysis is of the program one device runs (the batch split over the mesh)
    return {"seconds_per_step": seconds, "model_flops_per_step": step_flops(config),
            "xla_flops_per_step": float(xla["flops"]) * mesh.size}


def run(config_name: str = BENCH_CONFIG, steps: int = 10) -> dict:
    config = get_config(config_name)
    anchor = matmul_flops_per_s()
    step = train_step_rate(config, steps)
    model_rate = step["model_flops_per_step"] / step["seconds_per_step"]
    xla_rate = step["xla_flops_per_step"] / step["seconds_per_step"]
    anchor = max(anchor, matmul_flops_per_s())  # the anchor's best of two, measured around it
    return {"config": config_name, "devices": jax.device_count(), "steps": steps, **step,
            "model_flops_per_s": model_rate, "matmul_flops_per_s": anchor,
            "ratio": model_rate / anchor, "xla_flops_per_s": xla_rate,
            "xla_ratio": xla_rate / anchor}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=BENCH_CONFIG)
    parser.add_argument("--steps", type=int, default=10)
    add_output_args(parser, "train")
    args = parser.parse_args(argv)
    result = run(args.config, args.steps)
    if save(result, args):
        return
    print(f"train step ({result['config']}, {result['devices']} device(s)): "
          f"{result['seconds_per_step']:.3f} s a step")
    print(f"  model FLOP/s {result['model_flops_per_s'] / 1e9:8.2f} G   "
          f"(XLA's count {result['xla_flops_per_s'] / 1e9:8.2f} G)")
    print(f"  matmul FLOP/s {result['matmul_flops_per_s'] / 1e9:7.2f} G")
    print(f"  ratio {result['ratio']:.3f}   (by XLA's count {result['xla_ratio']:.3f})")


if __name__ == "__main__":
    main()
