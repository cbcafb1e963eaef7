"""Grain input: a mixture folder (``openwebli mixture``) → batches of images and token ids.

Examples are drawn from every task's train split by the rates in the mixture's ``info.json``
(``pipelines.mixture.reader``). The per-example steps (``decode_image``, ``example_features``)
are pure numpy functions.
"""
from __future__ import annotations

import io

import grain
import numpy as np
from PIL import Image

from model.configs import PaliConfig
from model.tokenizer import PAD_ID, Tokenizer
from pipelines.mixture.reader import MixtureFolder

# open_clip's OPENAI_DATASET_MEAN / _STD: the scorer's ViT was trained with them.
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def decode_image(jpeg: bytes, size: int) -> np.ndarray:
    """JPEG → (size, size, 3) float32, as open_clip's eval transform does it: shorter side to
    ``size`` (PIL bicubic, torchvision's rounding), centre crop, normalise. No bytes (a text-only
    example) → zeros: the mean image."""
    if not jpeg:
        return np.zeros((size, size, 3), np.float32)
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left, top = round((new_w - size) / 2), round((new_h - size) / 2)
    arr = np.asarray(img.crop((left, top, left + size, top + size)), np.float32) / 255.0
    return (arr - MEAN) / STD


def example_features(ex: dict, tokenizer: Tokenizer, config: PaliConfig) -> dict:
    """A mixture row (``image``, ``prefix``, ``target``) → the model's arrays."""
    target = tokenizer.encode(ex["target"], config.max_target_len, eos=True)
    return {
        "image": decode_image(ex["image"], config.image_size),
        "prefix": tokenizer.encode(ex["prefix"], config.max_prefix_len),
        "decoder_input": np.concatenate([[PAD_ID], target[:-1]]).astype(np.int32),  # shift right
        "target": target,
    }


class _Features(grain.transforms.Map):
    def __init__(self, tokenizer_path: str, config: PaliConfig):
        self.tokenizer_path, self.config = tokenizer_path, config
        self._tokenizer = None

    def map(self, row: dict) -> dict:
        if self._tokenizer is None:  # loaded lazily so the transform pickles to workers
            self._tokenizer = Tokenizer(self.tokenizer_path)
        return example_features(row, self._tokenizer, self.config)


def read_examples(data_dir: str, limit: int | None = None) -> list[dict]:
    """Every train row of a mixture folder (task by task, without images), or the first
    ``limit`` of each task (for training the tokenizer and checking lengths)."""
    return MixtureFolder(data_dir).rows("train", limit)


def train_dataset(data_dir: str, tokenizer_path: str, config: PaliConfig,
                  start_step: int = 0, process_index: int = 0, process_count: int = 1):
    """This process's part of an endless, seeded, batched Grain dataset of feature dicts.

    Tasks are drawn by the mixture's rates (the config's ``task_rates`` where given), each
    task reshuffled every epoch (seeded from
    ``config.seed``); batches hold ``batch_size // process_count`` examples; ``start_step``
    skips the batches already trained on, so a resumed run continues the same data order.
    """
    if config.batch_size % process_count:
        raise ValueError(f"batch_size {config.batch_size} does not split over "
                         f"{process_count} processes")
    mixed = MixtureFolder(data_dir).sampler("train", rates=config.rates, seed=config.seed)
    batches = (mixed[process_index::process_count]
               .map(_Features(tokenizer_path, config))
               .batch(config.batch_size // process_count, drop_remainder=True))
    return batches[start_step:]


def random_batch(config: PaliConfig, n: int, seed: int = 0) -> dict:
    """``n`` examples of random pixels and token ids (past the 4 special ids) in the trainer's
    batch layout, the decoder input the target shifted right: for benchmarks and tests."""
    rng, s = np.random.default_rng(seed), config.image_size
    target = rng.integers(4, config.vocab_size, (n, config.max_target_len)).astype(np.int32)
    return {"image": rng.normal(size=(n, s, s, 3)).astype(np.float32),
            "prefix": rng.integers(4, config.vocab_size, (n, config.max_prefix_len)).astype(np.int32),
            "decoder_input": np.concatenate([np.zeros((n, 1), np.int32), target[:, :-1]], 1),
            "target": target}

