"""The layout of a mixture folder, shared by the job that writes it and the reader. Pure.

    <folder>/<task>/<split>/part-00000-of-00004.<ext>   examples (EXAMPLE_TYPES)
    <folder>/images/part-00000-of-00004.<ext>           each image once (IMAGE_TYPES)
    <folder>/images/index-00000-of-00004.parquet        the keys of each image shard, in order

An image's key is the first 32 hex digits of its sha256 ("" for text-only examples); image
shard ``k`` holds the keys equal to ``k`` modulo the shard count, sorted.
"""
from __future__ import annotations

import hashlib

SPLITS = ("train", "validation")
IMAGES = "images"
EXAMPLE_TYPES = {"task": str, "image_key": str, "prefix": str, "target": str, "lang": str,
                 "source_id": str}
IMAGE_TYPES = {"image_key": str, "image": bytes}


def image_key(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()[:32] if image else ""


def image_shard(key: str, num_shards: int) -> int:
    return int(key, 16) % num_shards


def index_name(shard: int, num_shards: int) -> str:
    return f"index-{shard:05d}-of-{num_shards:05d}.parquet"


def feature_names(types: dict[str, type]) -> dict[str, str]:
    """How info.json names each feature's type."""
    return {name: "string" if kind is str else "bytes" for name, kind in types.items()}
