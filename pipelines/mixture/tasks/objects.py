"""Tasks on labelled objects (COCO, Open Images): detection and object-aware VQA."""
from __future__ import annotations

import collections
import random

from pipelines.mixture.prompts import prompt
from pipelines.mixture.tasks.core import Context, NotApplicable, task
from schemas import BoxedObject, LabelledImage, TaskExample, pair_id

LOC_BINS = 1024  # PaLI / PaliGemma's <loc0000> … <loc1023>


def loc_token(fraction: float) -> str:
    """A coordinate (a fraction of the image's height or width) as its location token."""
    return f"<loc{round(min(max(fraction, 0.0), 1.0) * (LOC_BINS - 1)):04d}>"


def box_tokens(obj: BoxedObject) -> str:
    """``<locYMIN><locXMIN><locYMAX><locXMAX>``."""
    return "".join(map(loc_token, obj.box))


@task("detection", source="labelled_image")
def detection(image: LabelledImage, rng: random.Random, ctx: Context):
    """``detect a ; b`` → ``<locYMIN><locXMIN><locYMAX><locXMAX> a ; …``: the image's labels in
    alphabetical order, then every box of each label, top to bottom, left to right."""
    if not image.objects:
        return NotApplicable("no_objects")
    labels = sorted({o.label for o in image.objects})
    boxes = [f"{box_tokens(o)} {o.label}" for label in labels
             for o in sorted((o for o in image.objects if o.label == label), key=lambda o: o.box)]
    prefix = prompt("detection", ctx.style, labels=" ; ".join(labels))
    return [TaskExample(task="detection", image=image.image, prefix=prefix,
                        target=" ; ".join(boxes), lang=image.lang, source_id=image.image_id)]


# Object-aware VQA (PaliGemma's kinds), questions in English: the labels of COCO and Open Images
# are English words. Written by hand: no library generates them.
QUESTIONS = {
    "listing": "What objects are in the image?",
    "presence": "Is there {a} in the image?",
    "multi_presence": "Are there {a} and {b} in the image?",
    "counting": "How many objects labelled {label} are in the image?",
}


def _a(label: str) -> str:
    return f"{'an' if label[:1].lower() in 'aeiou' else 'a'} {label}"


def _questions(counts: collections.Counter, absent: list[str], rng: random.Random):
    """(kind, question, answer) of one image: the list of its labels; one "yes" and one "no"
    presence question (the "no" needs a label of the source the image lacks); one two-label
    question (labels in alphabetical order), "yes" or "no" by a coin flip where both are
    possible; one count."""
    present = sorted(counts)
    out = [("listing", QUESTIONS["listing"], ", ".join(present))]
    if absent:
        out.append(("presence", QUESTIONS["presence"].format(a=_a(rng.choice(present))), "yes"))
        out.append(("presence", QUESTIONS["presence"].format(a=_a(rng.choice(absent))), "no"))
    can_yes, can_no = len(present) >= 2, bool(absent)
    if can_yes or can_no:
        yes = can_yes and (not can_no or rng.random() < 0.5)
        pair = rng.sample(present, 2) if yes else [rng.choice(present), rng.choice(absent)]
        a, b = sorted(pair)
        out.append(("multi_presence", QUESTIONS["multi_presence"].format(a=_a(a), b=_a(b)),
                    "yes" if yes else "no"))
    label = rng.choice(present)
    out.append(("counting", QUESTIONS["counting"].format(label=label), str(counts[label])))
    return out


@task("object_aware_vqa", source="labelled_image")
def object_aware_vqa(image: LabelledImage, rng: random.Random, ctx: Context):
    """Questions made from the object labels, asked as VQA (``Answer in en: <question>``):
    listing, presence (one yes and one no), two-label presence and counting."""
    if not image.objects:
        return NotApplicable("no_objects")
    if image.lang != "en":
        return NotApplicable("no_questions_in_language")
    counts = collections.Counter(o.label for o in image.objects)
    absent = sorted(set(ctx.labels) - set(counts))
    return [TaskExample(task="object_aware_vqa", image=image.image,
                        prefix=prompt("vqa", ctx.style, lang=image.lang, question=question),
                        target=answer, lang=image.lang,
                        source_id=pair_id(image.image_id, f"{kind} {question}"))
            for kind, question, answer in _questions(counts, absent, rng)]
