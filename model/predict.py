"""``openwebli predict``: a trained PaLI workdir answering prompts about images, in batches.

Batches are padded to a fixed size so every batch reuses one compiled decoder
(``model/decode.py``: greedy, beam search or sampling over the key/value cache).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from model.checkpoints import checkpoints, restore
from model.data import decode_image
from model.configs import DecodeConfig, PaliConfig
from model.decode import generate
from model.metrics import parse_boxes
from model.pali import PaLI
from model.tokenizer import MODEL_FILE, Tokenizer
from model.train import create_state
from pipelines.dedup.near import IMAGE_SUFFIXES



class Predictor:
    """A trained PaLI with its tokenizer."""

    def __init__(self, config: PaliConfig, params, tokenizer: Tokenizer, batch_size: int = 16,
                 step: int | None = None):
        self.config, self.params, self.tokenizer = config, params, tokenizer
        self.model = PaLI(dataclasses.replace(config, remat=0))  # no backward pass here
        self.batch_size, self.step = batch_size, step

    def predict_batch(self, images: list[bytes], prompts: list[str],
                      decoding: DecodeConfig = DecodeConfig()) -> list[dict]:
        """One ``{"prediction", "score"}`` per (image, prompt); score: the summed
        log-probability of the prediction's tokens."""
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        out = []
        for start in range(0, len(images), self.batch_size):
            out += self._batch(images[start:start + self.batch_size],
                               prompts[start:start + self.batch_size], decoding)
        return out

    def _batch(self, images, prompts, decoding):
        c, n = self.config, len(images)
        pad = self.batch_size - n  # fixed shapes: one compile for every batch
        pixels = np.stack([decode_image(b, c.image_size) for b in images] +
                          [np.zeros((c.image_size, c.image_size, 3), np.float32)] * pad)
        prefix = np.stack([self.tokenizer.encode(p, c.max_prefix_len) for p in prompts] +
                          [np.zeros(c.max_prefix_len, np.int32)] * pad)
        tokens, scores = generate(self.model, self.params, pixels, prefix, decoding)
        tokens, scores = np.asarray(tokens)[:n], np.asarray(scores)[:n]
        return [{"prediction": self.tokenizer.decode(t), "score": float(s)}
                for t, s in zip(tokens, scores)]

    def predict(self, image_bytes: bytes, prompt: str,
                decoding: DecodeConfig = DecodeConfig()) -> str:
        return self.predict_batch([image_bytes], [prompt], decoding)[0]["prediction"]


def load(workdir: str, batch_size: int = 16) -> Predictor:
    """The latest checkpoint of an ``openwebli train`` workdir."""
    work = Path(workdir)
    if not (work / "config.json").exists():
        raise FileNotFoundError(f"{workdir} is not a training workdir (no config.json)")
    config = PaliConfig(**json.loads((work / "config.json").read_text()))
    manager = checkpoints(work)
    state = restore(manager, create_state(config, warn=False))
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {work / 'checkpoints'}")
    return Predictor(config, state.params, Tokenizer(work / MODEL_FILE), batch_size,
                     step=int(state.step))


def image_files(path: str) -> list[Path]:
    """``path`` itself, or the images in the folder ``path`` (by suffix, sorted)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"no image or folder {path}")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")
    return files


def predict_files(predictor: Predictor, files: list[Path], prompt: str,
                  decoding: DecodeConfig) -> list[dict]:
    """A record per image: its path, the prompt, the prediction, its score and, where it
    holds location tokens, the boxes they describe."""
    results = predictor.predict_batch([f.read_bytes() for f in files], [prompt] * len(files),
                                      decoding)
    out = []
    for f, r in zip(files, results):
        record = {"image": str(f), "prompt": prompt, **r}
        boxes = parse_boxes(r["prediction"])
        if boxes:
            record["boxes"] = [{"label": label, "box": list(box)} for label, box in boxes]
        out.append(record)
    return out
