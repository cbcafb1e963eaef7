"""Grain input: ArrayRecord shards of TaskExamples → batches of images and token ids.

The per-example steps (``decode_image``, ``example_features``) are pure numpy functions.
"""
from __future__ import annotations

import glob
import io
import os

import grain
import numpy as np
from PIL import Image

from model.configs import PaliConfig
from model.tokenizer import PAD_ID, Tokenizer
from schemas import TaskExample
from schemas.codec import decode

# open_clip's OPENAI_DATASET_MEAN / _STD: the scorer's ViT was trained with them.
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def shard_paths(data_dir: str) -> list[str]:
    paths = sorted(glob.glob(os.path.join(data_dir, "*.array_record")))
    if not paths:
        raise FileNotFoundError(f"no *.array_record shards in {data_dir}; run `openwebli mixture`")
    return paths


def decode_image(jpeg: bytes, size: int) -> np.ndarray:
    """JPEG → (size, size, 3) float32, as open_clip's eval transform does it: shorter side to
    ``size`` (PIL bicubic, torchvision's rounding), centre crop, normalise."""
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


def example_features(ex: TaskExample, tokenizer: Tokenizer, config: PaliConfig) -> dict:
    target = tokenizer.encode(ex.target, config.max_target_len, eos=True)
    return {
        "image": decode_image(ex.image, config.image_size),
        "prefix": tokenizer.encode(ex.prefix, config.max_prefix_len),
        "decoder_input": np.concatenate([[PAD_ID], target[:-1]]).astype(np.int32),  # shift right
        "target": target,
    }


class _Features(grain.transforms.Map):
    def __init__(self, tokenizer_path: str, config: PaliConfig):
        self.tokenizer_path, self.config = tokenizer_path, config
        self._tokenizer = None

    def map(self, record: bytes) -> dict:
        if self._tokenizer is None:  # loaded lazily so the transform pickles to workers
            self._tokenizer = Tokenizer(self.tokenizer_path)
        return example_features(decode(TaskExample, record), self._tokenizer, self.config)


def read_examples(data_dir: str, limit: int | None = None) -> list[TaskExample]:
    """Every example of a mixture folder, or its first ``limit`` (for training the tokenizer,
    checking lengths and evaluation)."""
    source = grain.sources.ArrayRecordDataSource(shard_paths(data_dir))
    n = len(source) if limit is None else min(limit, len(source))
    return [decode(TaskExample, source[i]) for i in range(n)]


def train_dataset(data_dir: str, tokenizer_path: str, config: PaliConfig,
                  start_step: int = 0, process_index: int = 0, process_count: int = 1):
    """This process's part of an endless, seeded, batched Grain dataset of feature dicts.

    Each epoch is reshuffled (Grain seeds each epoch from ``config.seed``); batches hold
    ``batch_size // process_count`` examples; ``start_step`` skips the batches already trained
    on, so a resumed run continues the same data order.
    """
    if config.batch_size % process_count:
        raise ValueError(f"batch_size {config.batch_size} does not split over "
                         f"{process_count} processes")
    source = grain.MapDataset.source(grain.sources.ArrayRecordDataSource(shard_paths(data_dir)))
    local = source[process_index::process_count]
    if not len(local):
        raise ValueError(f"{data_dir} has no examples for process {process_index}")
    batches = (local.shuffle(seed=config.seed).repeat(None)
               .map(_Features(tokenizer_path, config))
               .batch(config.batch_size // process_count, drop_remainder=True))
    return batches[start_step:]
