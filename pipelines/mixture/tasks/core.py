"""Tasks and mixtures in strict registries (seqio's shape, without TensorFlow). Pure: no Beam.

- A **task** is a name, the kind of source record it reads (``SOURCE_KINDS``), a pure builder
  ``(record, rng, context) → [TaskExample, …]`` (zero or more) or ``NotApplicable(reason)``
  when it makes nothing and says why, and the features its examples carry.
- A **mixture** is a name and its tasks with rates: a rate is the task's weight when the
  mixture is read (``reader.py`` draws examples in proportion to the rates).

Workers receive names and look them up in ``TASKS`` / ``MIXTURES``. Randomness (where to split a
caption, which spans to corrupt) is seeded from the spec's seed, the task name and the record
id, so a rerun is identical.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
from typing import Callable

from pipelines.mixture.prompts import DEFAULT_STYLE, check_style
from pipelines.mixture.registry import Registry, repeated
from schemas import CorpusPair, LabelledImage, PageText, TaskExample, VqaTriplet

# The record each kind of source gives (sources.py): a corpus folder gives "corpus" pairs and
# "text" page texts; COCO and Open Images files give "labelled_image"s; VQ²A files "vqa" triplets.
SOURCE_KINDS = {"corpus": CorpusPair, "labelled_image": LabelledImage, "vqa": VqaTriplet,
                "text": PageText}
EXAMPLE_FEATURES = tuple(f.name for f in dataclasses.fields(TaskExample))


@dataclasses.dataclass(frozen=True)
class NotApplicable:
    """Why a task made no example from a record (counted; the record goes on to other tasks)."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Context:
    """What a builder knows beyond its record: the prompt style, and every label of the
    record's source (for the "no" answers of object-aware VQA)."""

    style: str = DEFAULT_STYLE
    labels: tuple[str, ...] = ()

    def __post_init__(self):
        check_style(self.style)


Record = CorpusPair | LabelledImage | VqaTriplet | PageText
Built = list[TaskExample] | NotApplicable
Builder = Callable[[Record, random.Random, Context], Built]


@dataclasses.dataclass(frozen=True)
class Task:
    """A task: ``build(record, rng, context)`` turns one ``source`` record into its examples."""

    name: str
    source: str
    build: Builder
    features: tuple[str, ...] = EXAMPLE_FEATURES
    description: str = ""

    def __post_init__(self):
        if self.source not in SOURCE_KINDS:
            raise ValueError(f"task {self.name!r}: unknown source kind {self.source!r}; "
                             f"expected one of {sorted(SOURCE_KINDS)}")
        unknown = set(self.features) - set(EXAMPLE_FEATURES)
        if unknown:
            raise ValueError(f"task {self.name!r}: features {sorted(unknown)} are not "
                             f"TaskExample fields {EXAMPLE_FEATURES}")

    def __call__(self, record: Record, rng: random.Random,
                 context: Context | str = DEFAULT_STYLE) -> Built:
        """The examples of ``record``; ``context`` may be given as a prompt style alone."""
        if isinstance(context, str):
            context = Context(style=context)
        built = self.build(record, rng, context)
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
    """Tasks with rates: each rate is the task's weight when the mixture is read (> 0; the
    reader normalises them to shares)."""

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
            if not rate > 0.0:
                raise ValueError(f"rate of task {name!r} must be > 0, got {rate}")

    @property
    def task_names(self) -> list[str]:
        return [name for name, _ in self.rates]


MIXTURES: Registry[Mixture] = Registry("mixture")


def task_rng(task_name: str, record_id: str, seed: int = 0) -> random.Random:
    """The generator of one task on one record (seed 0 keeps the ids of earlier mixtures)."""
    key = f"{task_name}/{record_id}" if seed == 0 else f"{seed}/{task_name}/{record_id}"
    return random.Random(hashlib.sha256(key.encode()).digest())


def image_example(task_name: str, image: bytes, prefix: str, target: str, lang: str,
                  source_id: str) -> list[TaskExample]:
    return [TaskExample(task=task_name, image=image, prefix=prefix, target=target, lang=lang,
                        source_id=source_id)]
