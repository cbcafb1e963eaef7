"""Near-duplicate keys for perceptual hashes. Pure (no Beam).

A 64-bit pHash is cut into ``bands`` equal bands. Two hashes within Hamming distance
``bands - 1`` agree exactly on at least one band (pigeonhole), so grouping by band finds every
such pair without comparing all pairs; candidates are then checked by their real distance.
"""
from __future__ import annotations

HASH_BITS = 64


def hamming(a: str, b: str) -> int:
    """Hamming distance of two hex-encoded hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def band_keys(phash: str, bands: int = 8) -> list[str]:
    """``"b<i>:<bits>"`` for each band of the hash (bands must divide 64)."""
    if HASH_BITS % bands:
        raise ValueError(f"bands must divide {HASH_BITS}, got {bands}")
    width = HASH_BITS // bands
    value = int(phash, 16)
    return [f"b{i}:{(value >> (i * width)) & ((1 << width) - 1):x}" for i in range(bands)]


def image_phash(data: bytes) -> str:
    """The pHash (hex) of encoded image bytes, as the fetch stage computes it."""
    from quality_filters.image import decode_upright, phash

    return phash(decode_upright(data))
