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
    """JPEG → (size, size, 3) float32: shorter side resized to ``size`` (bicubic), centre crop,
    normalised — the same as open_clip's eval transform."""
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                     Image.Resampling.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
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


def read_examples(data_dir: str) -> list[TaskExample]:
    """Every example of a mixture folder (for training the tokenizer and for evaluation)."""
    source = grain.sources.ArrayRecordDataSource(shard_paths(data_dir))
    return [decode(TaskExample, source[i]) for i in range(len(source))]


def train_dataset(data_dir: str, tokenizer_path: str, config: PaliConfig):
    """An endless, shuffled (reshuffled each epoch), batched Grain dataset."""
    source = grain.sources.ArrayRecordDataSource(shard_paths(data_dir))
    return (grain.MapDataset.source(source).repeat(None)
            .shuffle(seed=config.seed)
            .map(_Features(tokenizer_path, config))
            .batch(config.batch_size, drop_remainder=True))
