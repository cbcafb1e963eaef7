"""``openwebli train-scorer``: train the project's contrastive scorer with the SigLIP loss.

The model is open_clip's ``openwebli-tiny`` (a small ViT and text transformer, config beside
this file), trained from scratch on pairs from ``pipelines.synthetic``: photo-like scenes
captioned in six languages and signs captioned with their word. Held-out pairs from another seed
measure the AUC of matched against shuffled pairs. The saved state dict reloads through
``open_clip.create_model_and_transforms("openwebli-tiny", pretrained=path)``.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np

from pipelines import synthetic
from pipelines.score.scorer_model import PROJECT_MODEL, Scorer, register_project_models

RENDER_SHORT_SIDE = 72  # rendered small; the model's own preprocess resizes to 64 and crops


def make_pairs(n: int, seed: int, sign_fraction: float = 0.2):
    """n (PIL image, caption, language) pairs: scenes, and signs with a word on them."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        lang = rng.choice(synthetic.LANGS)
        size = (int(RENDER_SHORT_SIDE * rng.uniform(1.0, 1.6)), RENDER_SHORT_SIDE)
        if rng.random() < sign_fraction:
            word = rng.choice(synthetic.SIGN_WORDS)
            pairs.append((synthetic.render_sign(word, size, rng),
                          synthetic.sign_caption(word, lang), lang))
        else:
            scene = synthetic.random_scene(rng)
            pairs.append((synthetic.render_scene(scene, size, rng),
                          synthetic.scene_caption(scene, lang), lang))
    return pairs


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


def evaluate(scorer: Scorer, pairs, seed: int = 0) -> dict:
    """Held-out AUC of each image with its own caption vs with another pair's caption."""
    images, texts, langs = zip(*pairs)
    perm = np.random.default_rng(seed).permutation(len(pairs))
    perm = np.where(perm == np.arange(len(pairs)), (perm + 1) % len(pairs), perm)
    matched = scorer.score(list(images), list(texts))
    shuffled = scorer.score(list(images), [texts[j] for j in perm])
    langs = np.array(langs)
    per_lang = {lang: round(auc(matched[langs == lang], shuffled[langs == lang]), 4)
                for lang in synthetic.LANGS}
    return {"auc": round(auc(matched, shuffled), 4), "auc_per_language": per_lang,
            "pairs": len(pairs)}


def _batches(pool, preprocess, tokenizer, batch_size: int, rng: random.Random):
    import torch

    while True:
        batch = rng.sample(pool, batch_size)
        images = torch.stack([preprocess(img) for img, _, _ in batch])
        yield images, tokenizer([text for _, text, _ in batch])


def _lr(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def _fit(model, batches, steps: int, lr: float, log) -> None:
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
        if step % 50 == 0 or step == steps - 1:
            rate = (step + 1) * len(images) / (time.time() - start)
            log(f"scorer step {step:4d}/{steps}  loss {loss.item():.4f}  {rate:.0f} pairs/s")
    model.eval()


def train_scorer(output_dir, *, steps: int = 300, batch_size: int = 96, lr: float = 2e-3,
                 pool_size: int = 8000, seed: int = 0, log=print) -> dict:
    """Train, evaluate on held-out pairs, save ``scorer.pt`` + ``scorer.json``; return metrics."""
    import open_clip
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    register_project_models()
    start = time.time()
    model, _, preprocess = open_clip.create_model_and_transforms(PROJECT_MODEL)
    tokenizer = open_clip.get_tokenizer(PROJECT_MODEL)
    log(f"rendering {pool_size} training pairs …")
    pool = make_pairs(pool_size, seed)
    _fit(model, _batches(pool, preprocess, tokenizer, batch_size, random.Random(seed)),
         steps, lr, log)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "scorer.pt")
    train_seconds = time.time() - start
    metrics = evaluate(Scorer(PROJECT_MODEL, str(out / "scorer.pt")), make_pairs(1200, seed + 1000))
    report = {"model": PROJECT_MODEL, "loss": "SigLIP (sigmoid)", "steps": steps,
              "batch_size": batch_size, "seed": seed, "train_seconds": round(train_seconds, 1),
              "held_out": metrics}
    (out / "scorer.json").write_text(json.dumps(report, indent=2))
    log(f"scorer saved to {out / 'scorer.pt'}; held-out AUC {metrics['auc']:.4f}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(train_scorer(args.output, steps=args.steps, batch_size=args.batch_size,
                                  seed=args.seed), indent=2))


if __name__ == "__main__":
    main()
