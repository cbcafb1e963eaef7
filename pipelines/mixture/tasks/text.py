"""Span corruption on text sources (the corpus's page texts, text files)."""
from __future__ import annotations

import random

from pipelines.mixture import span_corruption as spans
from pipelines.mixture.tasks.core import Context, NotApplicable, task
from schemas import PageText, TaskExample, pair_id

SPAN_CHUNK = 256  # units per span-corruption example (a longer text gives several)
SPAN_MIN_UNITS = 8
SPAN_MAX_CHUNKS = 8  # per text: one long page does not outweigh many short ones


@task("span_corruption", source="text")
def span_corruption(text: PageText, rng: random.Random, ctx: Context):
    """T5 span corruption (15% noise, mean span 3): the text with spans replaced by
    ``<extra_id_N>`` → each sentinel and its span; text only (no image), up to 8 examples of at
    most 256 words a text."""
    words, joiner = spans.units(text.text)
    if len(words) < SPAN_MIN_UNITS:
        return NotApplicable("text_too_short")
    out = []
    for i in range(0, min(len(words), SPAN_CHUNK * SPAN_MAX_CHUNKS), SPAN_CHUNK):
        chunk = words[i:i + SPAN_CHUNK]
        if len(chunk) < SPAN_MIN_UNITS:
            break
        prefix, target = spans.corrupt(chunk, joiner, rng)
        out.append(TaskExample(task="span_corruption", image=b"", prefix=prefix, target=target,
                               lang="und", source_id=pair_id(text.url, f"chunk {i // SPAN_CHUNK}")))
    return out
