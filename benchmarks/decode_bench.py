"""Decoding benchmark: greedy decoding with the key/value cache against the same decoding that
reruns the decoder over the whole buffer every step (``greedy_uncached``), measured side by
side on the same random-weight model, batch and length (EOS never comes first: every row
writes all ``max_target_len`` tokens, the same work in both), and beam search's cost over
greedy's.

    python -m benchmarks.decode_bench [--json] [--config SPEC] [--batch N] [--reps N]

Prints a summary (or one JSON line) and writes ``results/decode.json``.
"""
from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from benchmarks.output import add_output_args, save
from model.configs import DecodeConfig, get_config
from model.decode import generate, greedy_uncached
from model.pali import PaLI
from model.tokenizer import EOS_ID


def _seconds(fn, reps: int) -> float:
    jax.block_until_ready(fn())  # compile
    start = time.perf_counter()
    for _ in range(reps):
        out = fn()
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / reps


def run(spec: str, batch: int, reps: int) -> dict:
    config = get_config(spec)
    model = PaLI(config)
    rng = np.random.default_rng(0)
    s = config.image_size
    images = rng.normal(size=(batch, s, s, 3)).astype(np.float32)
    prefix = rng.integers(4, config.vocab_size, (batch, config.max_prefix_len)).astype(np.int32)
    dummy = np.zeros((batch, config.max_target_len), np.int32)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), images, prefix, dummy)["params"]
    kernel = np.asarray(params["lm_head"]["kernel"]).copy()
    kernel[:, EOS_ID] = 0.0  # EOS's logit 0 of random ones: full-length rows
    params = {**params, "lm_head": {"kernel": kernel}}
    n = config.max_target_len
    times = {
        "cached_greedy": _seconds(lambda: generate(model, params, images, prefix,
                                                   DecodeConfig(max_len=n)), reps),
        "uncached_greedy": _seconds(lambda: greedy_uncached(model, params, images, prefix, n),
                                    reps),
        "beam4": _seconds(lambda: generate(model, params, images, prefix,
                                           DecodeConfig("beam", beam=4, max_len=n)), reps),
    }
    tokens = batch * n
    return {"config": spec, "batch": batch, "tokens_per_row": n,
            **{f"{k}_s": round(v, 4) for k, v in times.items()},
            "cached_tokens_per_s": round(tokens / times["cached_greedy"], 1),
            "uncached_tokens_per_s": round(tokens / times["uncached_greedy"], 1),
            "speedup": round(times["uncached_greedy"] / times["cached_greedy"], 2),
            "beam4_over_greedy": round(times["beam4"] / times["cached_greedy"], 2)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_args(p, "decode")
    p.add_argument("--config", default="demo")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
    result = run(args.config, args.batch, args.reps)
    if not save(result, args):
        print(f"greedy, {args.batch} × {result['tokens_per_row']} tokens: cached "
              f"{result['cached_greedy_s'] * 1e3:.0f} ms, uncached "
              f"{result['uncached_greedy_s'] * 1e3:.0f} ms ({result['speedup']}×); beam 4: "
              f"{result['beam4_over_greedy']}× greedy's time")
    return result


if __name__ == "__main__":
    main()
