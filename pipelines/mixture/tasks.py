"""The PaLI mixture's tasks and mixtures, in strict registries (seqio's shape, without
TensorFlow). Pure: builders never import Beam.

- A **task** is a name, the kind of source record it reads (``corpus``: a corpus pair; ``coco``:
  a labelled image of an existing dataset; ``text``: a page text), a pure
  builder ``(record, rng, style) → [TaskExample, …]`` (zero or more), or ``NotApplicable(reason)``
  when it makes nothing and says why, and the features its examples carry.
- A **mixture** is a name and its tasks with rates.

Workers receive names and look them up in ``TASKS`` / ``MIXTURES``. Randomness (where to split a
caption, which pairs a rate samples) is seeded from the task name and the record id, so a rerun
is identical.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
from typing import Callable

from pipelines.mixture import span_corruption as spans
from pipelines.mixture.prompts import DEFAULT_STYLE, check_style, prompt
from pipelines.mixture.registry import Registry, repeated
from schemas import BoxedObject, CorpusPair, LabelledImage, PageText, TaskExample, pair_id

# corpus: CorpusPair; coco: LabelledImage (sources.py); text: PageText (WET texts, text files)
SOURCE_KINDS = ("corpus", "coco", "text")
EXAMPLE_FEATURES = tuple(f.name for f in dataclasses.fields(TaskExample))


@dataclasses.dataclass(frozen=True)
class NotApplicable:
    """Why a task made no example from a record (counted; the record goes on to other tasks)."""

    reason: str


Built = list[TaskExample] | NotApplicable
Builder = Callable[["CorpusPair | LabelledImage | PageText", random.Random, str], Built]


@dataclasses.dataclass(frozen=True)
class Task:
    """A task: ``build(record, rng, style)`` turns one ``source`` record into its examples,
    with prompts in ``style`` (prompts.py)."""

    name: str
    source: str
    build: Builder
    features: tuple[str, ...] = EXAMPLE_FEATURES
    description: str = ""

    def __post_init__(self):
        if self.source not in SOURCE_KINDS:
            raise ValueError(f"task {self.name!r}: unknown source kind {self.source!r}; "
                             f"expected one of {SOURCE_KINDS}")
        unknown = set(self.features) - set(EXAMPLE_FEATURES)
        if unknown:
            raise ValueError(f"task {self.name!r}: features {sorted(unknown)} are not "
                             f"TaskExample fields {EXAMPLE_FEATURES}")

    def __call__(self, record, rng: random.Random, style: str = DEFAULT_STYLE) -> Built:
        built = self.build(record, rng, check_style(style))
        if isinstance(built, NotApplicable):
            return built
        examples = list(built)
        if any(ex.task != self.name for ex in examples):
            raise ValueError(f"task {self.name!r} built an example of another task")
        return examples if examples else NotApplicable("no_example")


TASKS: Registry[Task] = Registry("task")


def task(name: str, source: str = "corpus", features: tuple[str, ...] = EXAMPLE_FEATURES):
    """Decorator: register the builder as task ``name`` (its docstring describes it)."""

    def register(fn: Builder) -> Builder:
        TASKS.add(name, Task(name=name, source=source, build=fn, features=features,
                             description=(fn.__doc__ or "").strip()))
        return fn

    return register


@dataclasses.dataclass(frozen=True)
class Mixture:
    """Tasks with rates: each rate is the share of a task's applicable records it samples."""

    name: str
    rates: tuple[tuple[str, float], ...]

    def __post_init__(self):
        if not self.rates:
            raise ValueError(f"mixture {self.name!r} needs at least one task")
        twice = repeated(name for name, _ in self.rates)
        if twice:
            raise ValueError(f"mixture {self.name!r} names tasks twice: {twice}")
        for name, rate in self.rates:
            TASKS.get(name)  # unknown names fail here, with the closest ones
            if not 0.0 < rate <= 1.0:
                raise ValueError(f"rate of task {name!r} must be in (0, 1], got {rate}")

    @property
    def task_names(self) -> list[str]:
        return [name for name, _ in self.rates]


MIXTURES: Registry[Mixture] = Registry("mixture")


def task_rng(task_name: str, record_id: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{task_name}/{record_id}".encode()).digest())


def _example(pair: CorpusPair, name: str, prefix: str, target: str) -> list[TaskExample]:
    return [TaskExample(task=name, image=pair.image_bytes, prefix=prefix, target=target,
                        lang=pair.lang, source_id=pair.pair_id)]


@task("captioning")
def captioning(pair: CorpusPair, rng: random.Random, style: str):
    """``Generate the alt_text in <lang>`` / ``caption <lang>`` → the alt text."""
    if pair.lang == "und":
        return NotApplicable("undetermined_language")
    return _example(pair, "captioning", prompt("captioning", style, lang=pair.lang), pair.alt_text)


@task("split_captioning")
def split_captioning(pair: CorpusPair, rng: random.Random, style: str):
    """``Generate the alt_text in <lang> at <pos>: <head> <extra_id_0>`` / ``split caption
    <lang>: <head>`` → the rest of the alt text, cut at a random word (a character for scripts
    written without spaces), never before the first or after the second to last."""
    if pair.lang == "und":
        return NotApplicable("undetermined_language")
    units, joiner = spans.units(pair.alt_text, pair.lang)
    if len(units) < 3:
        return NotApplicable("caption_too_short")
    cut = rng.randint(1, len(units) - 2)
    head = prompt("split_captioning", style, lang=pair.lang, pos=cut, head=joiner.join(units[:cut]))
    return _example(pair, "split_captioning", head, joiner.join(units[cut:]))


@task("ocr")
def ocr(pair: CorpusPair, rng: random.Random, style: str):
    """``Generate the OCR text in <lang>`` / ``ocr`` → the text read in the image, in reading
    order. An image OCR did not run on (the text gate saw no text) is not a "no text" example."""
    if not pair.ocr_ran:
        return NotApplicable("ocr_not_run")
    if not pair.ocr_text:
        return NotApplicable("no_text_in_image")
    lang = pair.ocr_lang if pair.ocr_lang != "und" else pair.lang
    return _example(pair, "ocr", prompt("ocr", style, lang=lang), pair.ocr_text)


LOC_BINS = 1024  # PaLI / PaliGemma's <loc0000> … <loc1023>


def loc_token(fraction: float) -> str:
    """A coordinate (a fraction of the image's height or width) as its location token."""
    return f"<loc{round(min(max(fraction, 0.0), 1.0) * (LOC_BINS - 1)):04d}>"


def box_tokens(obj: BoxedObject) -> str:
    """``<locYMIN><locXMIN><locYMAX><locXMAX>``."""
    return "".join(map(loc_token, obj.box))


@task("detection", source="coco")
def detection(image: LabelledImage, rng: random.Random, style: str):
    """``detect a ; b`` → ``<locYMIN><locXMIN><locYMAX><locXMAX> a ; …``: the image's labels in
    alphabetical order, then every box of each label, top to bottom, left to right."""
    if not image.objects:
        return NotApplicable("no_objects")
    labels = sorted({o.label for o in image.objects})
    boxes = [f"{box_tokens(o)} {o.label}" for label in labels
             for o in sorted((o for o in image.objects if o.label == label), key=lambda o: o.box)]
    prefix = prompt("detection", style, labels=" ; ".join(labels))
    return [TaskExample(task="detection", image=image.image, prefix=prefix,
                        target=" ; ".join(boxes), lang=image.lang, source_id=image.image_id)]


SPAN_CHUNK = 256  # units per span-corruption example (a longer text gives several)
SPAN_MIN_UNITS = 8
SPAN_MAX_CHUNKS = 8  # per text: one long page does not outweigh many short ones


@task("span_corruption", source="text")
def span_corruption(text: PageText, rng: random.Random, style: str):
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


MIXTURES.add("default", Mixture("default", (("captioning", 1.0), ("split_captioning", 1.0),
                                            ("ocr", 1.0))))
