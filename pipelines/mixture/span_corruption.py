"""T5's span corruption on text, with T5's defaults (noise density 0.15, mean noise span
length 3, ``<extra_id_N>`` sentinels). Pure.

Written here rather than taken from t5/seqio, whose ``random_spans_noise_mask`` is TensorFlow;
the algorithm is theirs: of n units, round(n x density) are noise, in round(noise / mean span)
spans; noise and non-noise units are each cut at random into that many non-empty runs, which
alternate, non-noise first. The input keeps the non-noise runs with a sentinel in place of each
noise span; the target is each sentinel followed by the span it hid, and one closing sentinel.

Units are words, or characters for scripts written without spaces: the mixture is written before
the model's tokenizer is trained on it.
"""
from __future__ import annotations

import random

NOISE_DENSITY = 0.15
MEAN_SPAN = 3.0
NO_SPACE_SCRIPTS = ("zh", "ja", "th", "lo", "km", "my")


def sentinel(i: int) -> str:
    return f"<extra_id_{i}>"


def _segments(items: int, segments: int, rng: random.Random) -> list[int]:
    """``items`` cut at random into ``segments`` non-empty runs: their lengths."""
    cuts = sorted(rng.sample(range(1, items), segments - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, items])]


def noise_spans(n: int, rng: random.Random, density: float = NOISE_DENSITY,
                mean_span: float = MEAN_SPAN) -> list[tuple[int, int]]:
    """(start, end) of each noise span over ``n`` units (n ≥ 2), in order."""
    noise = min(max(round(n * density), 1), n - 1)
    spans = max(1, min(round(noise / mean_span), noise, n - noise))
    noise_runs, kept_runs = _segments(noise, spans, rng), _segments(n - noise, spans, rng)
    out, pos = [], 0
    for kept, noisy in zip(kept_runs, noise_runs):
        pos += kept
        out.append((pos, pos + noisy))
        pos += noisy
    return out


def units(text: str, lang: str = "") -> tuple[list[str], str]:
    """The text's units and the string that joins them."""
    if lang in NO_SPACE_SCRIPTS:
        return list(text.replace(" ", "")), ""
    return text.split(), " "


def corrupt(words: list[str], joiner: str, rng: random.Random) -> tuple[str, str]:
    """(input with sentinels, target) for one run of units (at least 2), joined by ``joiner``."""
    spans = noise_spans(len(words), rng)
    inputs, targets, pos = [], [], 0
    for i, (start, end) in enumerate(spans):
        inputs += [*words[pos:start], sentinel(i)]
        targets += [sentinel(i), *words[start:end]]
        pos = end
    inputs += words[pos:]
    targets.append(sentinel(len(spans)))
    return joiner.join(inputs), joiner.join(targets)
