"""Pluggable NSFW image classifiers for the safety stage: any ONNX model, or open_clip
zero-shot with prompts. No classifier ships with the project (see docs/safety.md): users point
``--nsfw`` at one whose licence suits them.

A spec is ``onnx:PATH`` or ``clip:MODEL[:CHECKPOINT]`` (an open_clip spec, as ``--scorer``
takes). An ONNX model takes one image batch, NCHW or NHWC (read from its input shape; a
dynamic size falls back to ``NsfwConfig.size``), RGB in [0, 1] then normalised by
``mean``/``std``, and returns class scores: probabilities, or logits (softmaxed when a row does
not sum to 1); the unsafe probability is the sum over ``classes``. Zero-shot scores each image
against the ``unsafe`` and ``safe`` prompts with the model's own logit scale: the unsafe
probability is the softmax mass on the unsafe prompts.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

UNSAFE_PROMPTS = ("an explicit pornographic photo", "a photo of a naked person",
                  "a photo of people having sex")
SAFE_PROMPTS = ("a photo", "a photo of people", "a photo of a landscape",
                "a photo of an object", "a drawing")


@dataclasses.dataclass(frozen=True)
class NsfwConfig:
    model: str = ""  # onnx:PATH or clip:MODEL[:CHECKPOINT]; "" = no classifier
    threshold: float = 0.5  # unsafe probability at or above which a pair is rejected
    classes: tuple[int, ...] = (1,)  # ONNX: the output columns that are unsafe
    size: int = 224  # ONNX: the input side when the model's is dynamic
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)  # ONNX: per-channel, after scaling to [0, 1]
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    unsafe_prompts: tuple[str, ...] = UNSAFE_PROMPTS  # zero-shot
    safe_prompts: tuple[str, ...] = SAFE_PROMPTS

    def __post_init__(self):
        if self.model and not self.model.startswith(("onnx:", "clip:")):
            raise ValueError(f"NSFW model {self.model!r}: give onnx:PATH or "
                             "clip:MODEL[:CHECKPOINT]")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"NSFW threshold {self.threshold}: in (0, 1]")


def read_prompts(path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A prompt file: ``unsafe: TEXT`` and ``safe: TEXT`` lines → (unsafe, safe) prompts."""
    from pipelines.http import read_text
    from quality_filters.safety import list_lines

    found = {"unsafe": [], "safe": []}
    for number, line in list_lines(read_text(path).splitlines()):
        kind, _, text = line.partition(":")
        if kind.strip() not in found or not text.strip():
            raise ValueError(f"{path}:{number}: {line!r} is not 'unsafe: TEXT' or 'safe: TEXT'")
        found[kind.strip()].append(text.strip())
    if not found["unsafe"] or not found["safe"]:
        raise ValueError(f"{path}: give at least one unsafe: and one safe: prompt")
    return tuple(found["unsafe"]), tuple(found["safe"])


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class OnnxClassifier:
    """An ONNX image classifier run by onnxruntime on the CPU."""

    def __init__(self, path: str, config: NsfwConfig):
        import onnxruntime

        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        node = self.session.get_inputs()[0]
        self.input_name, shape = node.name, list(node.shape)
        self.nhwc = len(shape) == 4 and shape[3] == 3
        side = shape[1] if self.nhwc else shape[2]
        self.size = side if isinstance(side, int) and side > 0 else config.size
        self.config = config

    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        c = self.config
        batch = np.stack([np.asarray(im.convert("RGB").resize((self.size, self.size),
                                                                Image.Resampling.BICUBIC),
                                     np.float32) / 255.0 for im in images])
        batch = (batch - np.array(c.mean, np.float32)) / np.array(c.std, np.float32)
        if not self.nhwc:
            batch = batch.transpose(0, 3, 1, 2)
        scores = np.asarray(self.session.run(None, {self.input_name: batch})[0], np.float64)
        scores = scores.reshape(len(images), -1)
        if not np.allclose(scores.sum(axis=1), 1.0, atol=1e-3) or (scores < 0).any():
            scores = _softmax(scores)
        return scores[:, list(c.classes)].sum(axis=1)


class ZeroShotClassifier:
    """open_clip zero-shot: unsafe against safe prompts, at the model's logit scale."""

    def __init__(self, spec: str, config: NsfwConfig):
        import torch

        from pipelines.score.scorer_model import load_scorer

        self.scorer, self.torch = load_scorer(spec, device="cpu"), torch
        prompts = [*config.unsafe_prompts, *config.safe_prompts]
        self.unsafe = len(config.unsafe_prompts)
        model = self.scorer.model
        with torch.inference_mode():
            text = model.encode_text(self.scorer.tokenizer(prompts))
            self.text = torch.nn.functional.normalize(text, dim=-1)
            self.scale = float(model.logit_scale.exp())

    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            pixels = torch.stack([self.scorer.preprocess(im.convert("RGB")) for im in images])
            img = torch.nn.functional.normalize(self.scorer.model.encode_image(pixels), dim=-1)
            logits = (self.scale * img @ self.text.T).double().numpy()
        return _softmax(logits)[:, :self.unsafe].sum(axis=1)


def load_classifier(config: NsfwConfig):
    kind, _, rest = config.model.partition(":")
    return OnnxClassifier(rest, config) if kind == "onnx" else ZeroShotClassifier(rest, config)
