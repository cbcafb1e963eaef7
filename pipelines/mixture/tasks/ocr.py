"""OCR on the corpus's images: every line read, in reading order."""
from __future__ import annotations

import random

from pipelines.mixture.prompts import prompt
from pipelines.mixture.tasks.core import Context, NotApplicable, image_example, task
from schemas import CorpusPair

# Characters of target text an OCR example keeps (~128 tokens of an mT5-style vocabulary); a
# longer text loses whole random lines, so a target never ends in the middle of a word.
OCR_TARGET_CHARS = 512


def within_budget(lines: list[str], rng: random.Random, budget: int = OCR_TARGET_CHARS) -> list[str]:
    """``lines`` in their order, less random whole lines until they fit in ``budget``
    characters (joined by spaces)."""
    kept = list(range(len(lines)))
    while len(kept) > 1 and sum(len(lines[i]) + 1 for i in kept) - 1 > budget:
        kept.pop(rng.randrange(len(kept)))
    return [lines[i] for i in kept]


@task("ocr")
def ocr(pair: CorpusPair, rng: random.Random, ctx: Context):
    """``Generate the OCR text in <lang>`` / ``ocr`` → the lines read in the image, in reading
    order; past 512 characters random whole lines are dropped. An image OCR did not run on (the
    text gate saw no text) is not a "no text" example."""
    if not pair.ocr_ran:
        return NotApplicable("ocr_not_run")
    if not pair.ocr_text:
        return NotApplicable("no_text_in_image")
    lines = [line.text for line in pair.ocr_lines if line.text.strip()] or [pair.ocr_text]
    text = " ".join(within_budget(lines, rng))
    if len(text) > OCR_TARGET_CHARS:
        return NotApplicable("ocr_line_too_long")
    lang = pair.ocr_lang if pair.ocr_lang != "und" else pair.lang
    return image_example("ocr", pair.image_bytes, prompt("ocr", ctx.style, lang=lang), text, lang,
                         pair.pair_id)
