"""``openwebli train-scorer``: train the project's contrastive scorer with the SigLIP loss.

The model is open_clip's ``openwebli-tiny`` (a small ViT and text transformer, config beside
this file), trained from scratch on pairs from ``pipelines.synthetic``: photo-like scenes
captioned in six languages and signs captioned with their word. Held-out pairs from another seed
measure the AUC of matched against shuffled pairs. The saved state dict reloads through
``open_clip.create_model_and_transforms("openwebli-tiny", pretrained=path)``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines import synthetic
from pipelines.score.scorer_model import PROJECT_MODEL, Scorer, register_project_models

RENDER_HEIGHT = 72  # rendered small; the model's own preprocess resizes to 64 and crops
RENDER_ASPECTS = (1.0, 1.6)  # width / height; training on 0.6–3 did no better on site images


@dataclasses.dataclass(frozen=True)
class Example:
    """A generated pair. Two examples with the same ``content`` (scene or sign word) match."""

    image: Image.Image
    caption: str
    lang: str
    content: str


def make_pairs(n: int, seed: int, sign_fraction: float = 0.2) -> list[Example]:
    """n generated examples, in random languages: scenes, and signs with a word on them."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        lang = rng.choice(synthetic.LANGS)
        size = (round(RENDER_HEIGHT * rng.uniform(*RENDER_ASPECTS)), RENDER_HEIGHT)
        if rng.random() < sign_fraction:
            word = rng.choice(synthetic.SIGN_WORDS)
            image = synthetic.render_sign(word, size, rng)
            examples.append(Example(image, synthetic.sign_caption(word, lang), lang, word))
        else:
            scene = synthetic.random_scene(rng)
            image = synthetic.render_scene(scene, size, rng)
            examples.append(Example(image, synthetic.scene_caption(scene, lang), lang, str(scene)))
    return examples


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a positive outscores a negative (ties count half): Mann–Whitney U."""
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def evaluate(scorer: Scorer, examples: list[Example], seed: int = 0) -> dict:
    """Held-out AUC of each image with its own caption vs with another example's caption."""
    n = len(examples)
    perm = np.random.default_rng(seed).permutation(n)
    perm = np.where(perm == np.arange(n), (perm + 1) % n, perm)
    images, texts = [e.image for e in examples], [e.caption for e in examples]
    matched = scorer.score(images, texts)
    shuffled = scorer.score(images, [texts[j] for j in perm])
    langs = np.array([e.lang for e in examples])
    per_lang = {lang: round(auc(matched[langs == lang], shuffled[langs == lang]), 4)
                for lang in synthetic.LANGS if lang in langs}
    return {"auc": round(auc(matched, shuffled), 4), "auc_per_language": per_lang, "pairs": n}


def _distinct_batch(pool: list[Example], batch_size: int, rng: random.Random) -> list[Example]:
    """Random examples, no two with the same content: SigLIP takes every other pair of a
    batch as a negative, so a repeated scene or word would teach the model to reject a match."""
    if batch_size > len({e.content for e in pool}):
        raise ValueError(f"batch size {batch_size} exceeds the pool's distinct contents")
    batch, seen = [], set()
    while len(batch) < batch_size:
        example = pool[rng.randrange(len(pool))]
        if example.content not in seen:
            seen.add(example.content)
            batch.append(example)
    return batch


def _batches(pool, preprocess, tokenizer, batch_size: int, rng: random.Random):
    import torch

    while True:
        batch = _distinct_batch(pool, batch_size, rng)
        images = torch.stack([preprocess(e.image) for e in batch])
        yield images, tokenizer([e.caption for e in batch])


def _lr(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak``, then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def _fit(model, batches, steps: int, lr: float, log, log_every: int) -> None:
    import open_clip
    import torch

    loss_fn = open_clip.loss.SigLipLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    model.train()
    start = time.time()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, lr, warmup=max(1, steps // 10))
        images, tokens = next(batches)
        loss = loss_fn(*model(images, tokens))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            rate = (step + 1) * len(images) / (time.time() - start)
            log(f"scorer step {step:4d}/{steps}  loss {loss.item():.4f}  {rate:.0f} images/s")
    model.eval()


def train_scorer(output_dir, *, steps: int = 300, batch_size: int = 96, lr: float = 2e-3,
                 pool_size: int = 8000, held_out: int = 1200, seed: int = 0,
                 threads: int | None = None, log_every: int = 50, log=print) -> dict:
    """Train, evaluate on held-out pairs, save ``scorer.pt`` + ``scorer.json``; return metrics.

    ``pool_size`` pairs are rendered once and batches drawn from them; ``held_out`` pairs from
    seed + 1000 measure the AUC; ``threads``: torch CPU threads (default: one per core).
    """
    import open_clip
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    register_project_models()
    start = time.time()
    model, _, preprocess = open_clip.create_model_and_transforms(PROJECT_MODEL)
    tokenizer = open_clip.get_tokenizer(PROJECT_MODEL)
    log(f"rendering {pool_size} training pairs …")
    pool = make_pairs(pool_size, seed)
    batches = _batches(pool, preprocess, tokenizer, batch_size, random.Random(seed))
    _fit(model, batches, steps, lr, log, log_every)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "scorer.pt.tmp")
    os.replace(out / "scorer.pt.tmp", out / "scorer.pt")  # readers never see half a file
    train_seconds = time.time() - start
    scorer = Scorer(PROJECT_MODEL, str(out / "scorer.pt"))
    metrics = evaluate(scorer, make_pairs(held_out, seed + 1000))
    report = {"model": PROJECT_MODEL, "loss": "SigLIP (sigmoid)", "steps": steps,
              "batch_size": batch_size, "lr": lr, "seed": seed,
              "train_seconds": round(train_seconds, 1), "held_out": metrics}
    (out / "scorer.json").write_text(json.dumps(report, indent=2))
    log(f"scorer saved to {out / 'scorer.pt'}; held-out AUC {metrics['auc']:.4f}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder for scorer.pt and scorer.json")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    args = parser.parse_args(argv)
    report = train_scorer(args.output, steps=args.steps, batch_size=args.batch_size,
                          seed=args.seed, threads=args.threads)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
