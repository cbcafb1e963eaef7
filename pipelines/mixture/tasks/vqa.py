"""VQA and VQG on question–answer triplets (VQ²A-style sources)."""
from __future__ import annotations

import random

from pipelines.mixture.prompts import prompt
from pipelines.mixture.tasks.core import Context, NotApplicable, image_example, task
from schemas import VqaTriplet, pair_id


def _usable(triplet: VqaTriplet) -> NotApplicable | None:
    if not triplet.question.strip() or not triplet.answer.strip():
        return NotApplicable("empty_question_or_answer")
    if triplet.lang == "und":
        return NotApplicable("undetermined_language")
    return None


@task("vqa", source="vqa")
def vqa(triplet: VqaTriplet, rng: random.Random, ctx: Context):
    """``Answer in <lang>: <question>`` / ``answer <lang> <question>`` → the answer."""
    return _usable(triplet) or image_example(
        "vqa", triplet.image, prompt("vqa", ctx.style, lang=triplet.lang, question=triplet.question),
        triplet.answer, triplet.lang, pair_id(triplet.image_id, triplet.question))


@task("vqg", source="vqa")
def vqg(triplet: VqaTriplet, rng: random.Random, ctx: Context):
    """``Generate a question in <lang> for <answer>`` / ``question <lang> <answer>`` → the
    question."""
    return _usable(triplet) or image_example(
        "vqg", triplet.image, prompt("vqg", ctx.style, lang=triplet.lang, answer=triplet.answer),
        triplet.question, triplet.lang, pair_id(triplet.image_id, triplet.question))
