"""``openwebli train-scorer``: train the project's contrastive scorer.

The model is open_clip's ``openwebli-tiny`` (a small ViT and text transformer, config beside
this file), trained from scratch with the SigLIP (sigmoid) loss or CLIP's (softmax) loss, or
with its image tower locked (LiT: the image weights of a local checkpoint, only the text tower
trained). By default on generated pairs (``pipelines/score/pairs.py``: photo-like scenes
captioned in six languages, signs captioned with their word; held-out pairs from another
seed); with ``--pairs`` on real ones (a corpus folder, an image-caption folder or COCO captions),
a tenth of their images held out. The held-out pairs measure the AUC of matched against
shuffled pairs and retrieval R@1 / R@5 both ways. The saved state dict reloads through
``open_clip.create_model_and_transforms("openwebli-tiny", pretrained=path)``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np

from pipelines import synthetic
from pipelines.score.pairs import Example, load_pairs, make_pairs, split_held_out
from pipelines.score.scorer_model import PROJECT_MODEL, Scorer, register_project_models

LOSSES = ("siglip", "clip")


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


def recall_at(similarity: np.ndarray, match: np.ndarray, ks=(1, 5)) -> dict[str, float]:
    """Share of rows whose top-k columns hold a match (``match[i, j]``: row i and column j
    show the same content), for each k."""
    order = np.argsort(-similarity, axis=1, kind="stable")
    hits = np.take_along_axis(match, order, axis=1)
    return {f"R@{k}": round(float(hits[:, :k].any(axis=1).mean()), 4) for k in ks}


def retrieval(scorer: Scorer, examples: list[Example]) -> dict:
    """Image→text and text→image R@1 / R@5 among the held-out pairs: one image per content
    against every caption (any caption of its content is a hit), and every caption against
    those images."""
    firsts = {}
    for e in examples:
        firsts.setdefault(e.content, e.image)
    contents = list(firsts)
    img, txt = scorer.embed_images(list(firsts.values())), scorer.embed_texts(
        [e.caption for e in examples])
    match = np.array([[e.content == c for e in examples] for c in contents])
    similarity = img @ txt.T
    return {"image_to_text": recall_at(similarity, match),
            "text_to_image": recall_at(similarity.T, match.T),
            "images": len(contents), "captions": len(examples)}


def evaluate(scorer: Scorer, examples: list[Example], seed: int = 0) -> dict:
    """Held-out AUC of each image with its own caption vs with another content's caption, per
    language too, and retrieval R@k."""
    n = len(examples)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    for i in range(n):  # a caption of the same content is no negative
        tries = 0
        while examples[perm[i]].content == examples[i].content and tries < 20:
            perm[i], tries = rng.integers(n), tries + 1
    images, texts = [e.image for e in examples], [e.caption for e in examples]
    matched = scorer.score(images, texts)
    shuffled = scorer.score(images, [texts[j] for j in perm])
    langs = np.array([e.lang for e in examples])
    per_lang = {lang: round(auc(matched[langs == lang], shuffled[langs == lang]), 4)
                for lang in sorted(set(langs))}
    return {"auc": round(auc(matched, shuffled), 4), "auc_per_language": per_lang, "pairs": n,
            "retrieval": retrieval(scorer, examples)}


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


def _loss(kind: str):
    """(the loss, the model outputs it takes): SigLIP uses the logit bias, CLIP's ignores it."""
    import open_clip

    if kind == "siglip":
        return open_clip.loss.SigLipLoss(), 4
    return open_clip.loss.ClipLoss(), 3


def _fit(model, batches, steps: int, lr: float, log, log_every: int, loss: str) -> None:
    import torch

    loss_fn, outputs = _loss(loss)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                            weight_decay=0.1)
    model.train()
    start = time.time()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, lr, warmup=max(1, steps // 10))
        images, tokens = next(batches)
        value = loss_fn(*model(images, tokens)[:outputs])
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            rate = (step + 1) * len(images) / (time.time() - start)
            log(f"scorer step {step:4d}/{steps}  loss {value.item():.4f}  {rate:.0f} images/s")
    model.eval()


def _lock_image_tower(model, checkpoint: str, log) -> None:
    """LiT: the image tower's weights from ``checkpoint`` (a state dict of this architecture,
    e.g. an earlier ``scorer.pt``), frozen; the text tower and the logit scale/bias train."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    visual = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
    if not visual:
        raise ValueError(f"--lit {checkpoint}: no visual.* weights in it")
    model.visual.load_state_dict(visual)
    model.lock_image_tower()
    log(f"image tower locked from {checkpoint} ({len(visual)} tensors)")


def _pools(pairs: str, pool_size: int, held_out: int, seed: int, log):
    """(training pool, held-out pairs, where they came from)."""
    if not pairs:
        log(f"rendering {pool_size} training pairs …")
        return make_pairs(pool_size, seed), make_pairs(held_out, seed + 1000), "generated"
    examples = load_pairs(pairs)
    train, held = split_held_out(examples)
    log(f"{len(examples)} pairs from {pairs}: {len(train)} to train on, {len(held)} held out")
    return train, held, pairs


def train_scorer(output_dir, *, steps: int = 300, batch_size: int = 96, lr: float = 2e-3,
                 pool_size: int = 8000, held_out: int = 1200, seed: int = 0,
                 threads: int | None = None, log_every: int = 50, log=print, pairs: str = "",
                 loss: str = "siglip", lit: str = "") -> dict:
    """Train, evaluate on held-out pairs, save ``scorer.pt`` + ``scorer.json``; return metrics.

    Without ``pairs``, ``pool_size`` generated pairs are rendered once and batches drawn from
    them, and ``held_out`` pairs from seed + 1000 measure it; with ``pairs`` (a source for
    ``load_pairs``) a tenth of its images are held out. A batch holds one pair per content, so
    it is cut to the pool's distinct contents. ``loss``: "siglip" or "clip"; ``lit``: a
    checkpoint whose image tower is locked; ``threads``: torch CPU threads (default: all).
    """
    import open_clip
    import torch

    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r}: one of {', '.join(LOSSES)}")
    torch.manual_seed(seed)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    register_project_models()
    start = time.time()
    model, _, preprocess = open_clip.create_model_and_transforms(PROJECT_MODEL)
    if lit:
        _lock_image_tower(model, lit, log)
    tokenizer = open_clip.get_tokenizer(PROJECT_MODEL)
    pool, held, source = _pools(pairs, pool_size, held_out, seed, log)
    distinct = len({e.content for e in pool})
    if batch_size > distinct:
        log(f"batch size {batch_size} cut to the pool's {distinct} distinct images")
        batch_size = distinct
    batches = _batches(pool, preprocess, tokenizer, batch_size, random.Random(seed))
    _fit(model, batches, steps, lr, log, log_every, loss)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "scorer.pt.tmp")
    os.replace(out / "scorer.pt.tmp", out / "scorer.pt")  # readers never see half a file
    train_seconds = time.time() - start
    # A CLIP-loss model keeps the architecture's (untrained) logit bias so that it reloads
    # by the same name: score it by cosine.
    scorer = Scorer(PROJECT_MODEL, str(out / "scorer.pt"),
                    kind="sigmoid" if loss == "siglip" else "cosine")
    metrics = evaluate(scorer, held)
    report = {"model": PROJECT_MODEL, "loss": {"siglip": "SigLIP (sigmoid)",
                                               "clip": "CLIP (softmax)"}[loss],
              "score_kind": scorer.kind, "lit": lit or None, "pairs": source,
              "train_pairs": len(pool), "steps": steps, "batch_size": batch_size, "lr": lr,
              "seed": seed, "train_seconds": round(train_seconds, 1), "held_out": metrics}
    (out / "scorer.json").write_text(json.dumps(report, indent=2))
    r = metrics["retrieval"]
    log(f"scorer saved to {out / 'scorer.pt'}; held-out AUC {metrics['auc']:.4f}, image→text "
        f"R@1 {r['image_to_text']['R@1']:.3f}, text→image R@1 {r['text_to_image']['R@1']:.3f}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_train_scorer_args(parser)
    args = parser.parse_args(argv)
    print(json.dumps(run_from_args(args), indent=2))


def add_train_scorer_args(parser) -> None:
    parser.add_argument("--output", required=True, help="folder for scorer.pt and scorer.json")
    parser.add_argument("--pairs", default="",
                        help="real pairs: a corpus folder, an image-caption folder (image + "
                             "same-named .txt) or a COCO captions .json (default: generated)")
    parser.add_argument("--loss", choices=LOSSES, default="siglip")
    parser.add_argument("--lit", default="", metavar="CKPT",
                        help="lock the image tower with this checkpoint's weights (LiT)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=96)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print only the held-out figures, "
                                                            "as one JSON line")


def run_from_args(args) -> dict:
    log = (lambda _: None) if args.json else print
    return train_scorer(args.output, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                        seed=args.seed, threads=args.threads, pairs=args.pairs, loss=args.loss,
                        lit=args.lit, log=log)


if __name__ == "__main__":
    main()
