"""The contrastive scorer: any open_clip model, loaded from a local checkpoint or a hub tag.

A scorer spec is ``MODEL[:CHECKPOINT]``: MODEL is an open_clip model name (the project's own
``openwebli-tiny`` is registered from the JSON beside this file) and CHECKPOINT is a local
state-dict file or an open_clip pretrained tag (which needs a network to download).

A pair's score is what the model was trained to separate matches by: for a SigLIP model (one
with a ``logit_bias``) the sigmoid loss's logit, ``exp(logit_scale) · cos + logit_bias``; for a
CLIP model (softmax loss, no bias) the cosine similarity. ``kind`` forces one or the other.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np

from pipelines.paths import models_dir

PROJECT_MODEL = "openwebli-tiny"  # trained with the SigLIP loss; a name with "siglip" in it
# would make open_clip pick its (T5, transformers) SigLIP tokenizer
_CONFIG = Path(__file__).with_name(f"{PROJECT_MODEL}.json")
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
_SCHEMAS = ("hf-hub:", "local-dir:")  # open_clip names that carry their own weights
SCORE_KINDS = ("auto", "cosine", "sigmoid")


def register_project_models() -> None:
    import open_clip

    if PROJECT_MODEL not in open_clip.list_models():
        open_clip.add_model_config(_CONFIG)


def default_scorer_spec() -> str:
    """The project's scorer as trained by ``make models`` (or ``$OPENWEBLI_SCORER``)."""
    return os.environ.get("OPENWEBLI_SCORER",
                          f"{PROJECT_MODEL}:{models_dir() / 'scorer' / 'scorer.pt'}")


def parse_spec(spec: str) -> tuple[str, str]:
    """``MODEL[:CHECKPOINT]`` → (model, checkpoint or ""); ``hf-hub:``/``local-dir:`` names stay
    whole."""
    if spec.startswith(_SCHEMAS):
        return spec, ""
    name, _, checkpoint = spec.partition(":")
    return name, checkpoint


def _is_path(checkpoint: str) -> bool:
    return os.sep in checkpoint or checkpoint.endswith(_CHECKPOINT_SUFFIXES)


def _check_name(name: str) -> None:
    import open_clip

    known = open_clip.list_models()
    if name not in known and not name.startswith(_SCHEMAS):
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else " (see open_clip.list_models())"
        raise ValueError(f"unknown open_clip model {name!r}{hint}")


class Scorer:
    """A loaded open_clip model; ``score`` gives each (image, text)'s score (``kind``)."""

    def __init__(self, name: str, checkpoint: str, device: str = "cpu", kind: str = "auto"):
        import torch

        if kind not in SCORE_KINDS:
            raise ValueError(f"score kind {kind!r}: one of {', '.join(SCORE_KINDS)}")
        register_project_models()
        _check_name(name)
        if checkpoint and _is_path(checkpoint) and not Path(checkpoint).is_file():
            raise FileNotFoundError(
                f"scorer checkpoint {checkpoint} not found; create it with "
                "`openwebli train-scorer --output DIR` (or `make models`)")
        self.model_name, self.device, self._torch = name, device, torch
        self._load(name, checkpoint)
        bias = getattr(self.model, "logit_bias", None)
        if kind == "sigmoid" and bias is None:
            raise ValueError(f"{name} has no logit_bias (a CLIP model): score it by cosine")
        self.kind = kind if kind != "auto" else ("sigmoid" if bias is not None else "cosine")
        self.scale = float(self.model.logit_scale.exp()) if self.kind == "sigmoid" else 1.0
        self.bias = float(bias) if self.kind == "sigmoid" else 0.0

    def _load(self, name: str, checkpoint: str) -> None:
        """The model's weights, preprocessing and tokenizer (the spec is checked by then)."""
        import open_clip

        self.model, _, self.preprocess = open_clip.create_model_and_transforms(
            name, pretrained=checkpoint or None, device=self.device)
        self.model.eval().requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(name)

    def score(self, images, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """The score of each image with its own text (pairwise, not all against all)."""
        if len(images) != len(texts):
            raise ValueError(f"{len(images)} images but {len(texts)} texts")
        out = []
        with self._torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                out.append(self._score_batch(images[i:i + batch_size], texts[i:i + batch_size]))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def embed_images(self, images, batch_size: int = 64) -> np.ndarray:
        """Unit-length image embeddings (N, D)."""
        return self._embed(images, self._image_batch, batch_size)

    def embed_texts(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length text embeddings (N, D)."""
        return self._embed(texts, self._text_batch, batch_size)

    def _embed(self, items, batch_fn, batch_size: int) -> np.ndarray:
        with self._torch.inference_mode():
            return np.concatenate([batch_fn(items[i:i + batch_size]).float().cpu().numpy()
                                   for i in range(0, len(items), batch_size)])

    def _image_batch(self, images):
        pixels = self._torch.stack([self.preprocess(im) for im in images]).to(self.device)
        return self._torch.nn.functional.normalize(self.model.encode_image(pixels), dim=-1)

    def _text_batch(self, texts):
        tokens = self.tokenizer(texts).to(self.device)
        return self._torch.nn.functional.normalize(self.model.encode_text(tokens), dim=-1)

    def _score_batch(self, images, texts) -> np.ndarray:
        img, txt = self._image_batch(images), self._text_batch(texts)
        cosine = (img * txt).sum(-1).float().cpu().numpy()
        return (cosine * self.scale + self.bias).astype(np.float32)


def load_scorer(spec: str, device: str | None = None, kind: str = "auto") -> Scorer:
    """Load the scorer named by ``spec`` on ``device`` (default: CUDA when present)."""
    import torch

    name, checkpoint = parse_spec(spec)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return Scorer(name, checkpoint, device, kind)
