"""Captioning and split-captioning on the corpus's alt texts."""
from __future__ import annotations

import random

from pipelines.mixture import span_corruption as spans
from pipelines.mixture.prompts import prompt
from pipelines.mixture.tasks.core import Context, NotApplicable, image_example, task
from schemas import CorpusPair


@task("captioning")
def captioning(pair: CorpusPair, rng: random.Random, ctx: Context):
    """``Generate the alt_text in <lang>`` / ``caption <lang>`` → the alt text."""
    if pair.lang == "und":
        return NotApplicable("undetermined_language")
    return image_example("captioning", pair.image_bytes, prompt("captioning", ctx.style,
                         lang=pair.lang), pair.alt_text, pair.lang, pair.pair_id)


@task("split_captioning")
def split_captioning(pair: CorpusPair, rng: random.Random, ctx: Context):
    """``Generate the alt_text in <lang> at <pos>: <head> <extra_id_0>`` / ``split caption
    <lang>: <head>`` → the rest of the alt text, cut at a random word (a character for scripts
    written without spaces), never before the first or after the second to last."""
    if pair.lang == "und":
        return NotApplicable("undetermined_language")
    units, joiner = spans.units(pair.alt_text, pair.lang)
    if len(units) < 3:
        return NotApplicable("caption_too_short")
    cut = rng.randint(1, len(units) - 2)
    head = prompt("split_captioning", ctx.style, lang=pair.lang, pos=cut,
                  head=joiner.join(units[:cut]))
    return image_example("split_captioning", pair.image_bytes, head, joiner.join(units[cut:]),
                         pair.lang, pair.pair_id)
