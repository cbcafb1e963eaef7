"""The PaLI mixture's tasks: pure per-pair functions in a strict registry.

A task turns one corpus pair into zero or one task example, or says why it does not apply.
Workers receive task *names* and look them up here, never pickled closures. Randomness (where
to split a caption) is seeded from the task name and the pair id, so a rerun is identical.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import random
from typing import Callable

from schemas import CorpusPair, TaskExample


@dataclasses.dataclass(frozen=True)
class NotApplicable:
    """Why a task made no example from a pair (counted, the pair goes on to other tasks)."""

    reason: str


TaskFn = Callable[[CorpusPair, random.Random], "TaskExample | NotApplicable"]


class TaskRegistry:
    _tasks: dict[str, TaskFn] = {}

    @classmethod
    def add(cls, name: str, fn: TaskFn) -> TaskFn:
        if name in cls._tasks:
            raise ValueError(f"task {name!r} is already registered")
        if not name.replace("_", "").isalnum():
            raise ValueError(f"task names are snake_case words, got {name!r}")
        cls._tasks[name] = fn
        return fn

    @classmethod
    def get(cls, name: str) -> TaskFn:
        if name not in cls._tasks:
            close = difflib.get_close_matches(name, cls._tasks, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown task {name!r}{hint} (have {sorted(cls._tasks)})")
        return cls._tasks[name]

    @classmethod
    def names(cls) -> list[str]:
        return sorted(cls._tasks)


def task(name: str):
    """Decorator: register a task function under ``name``."""
    return lambda fn: TaskRegistry.add(name, fn)


def task_rng(task_name: str, pair_id: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{task_name}/{pair_id}".encode()).digest())


def _example(pair: CorpusPair, name: str, prefix: str, target: str) -> TaskExample:
    return TaskExample(task=name, image=pair.image_bytes, prefix=prefix, target=target,
                       lang=pair.lang, source_id=pair.pair_id)


@task("captioning")
def captioning(pair: CorpusPair, rng: random.Random):
    """``caption <lang>`` → the alt text."""
    if pair.lang == "und":
        return NotApplicable("undetermined_language")
    return _example(pair, "captioning", f"caption {pair.lang}", pair.alt_text)


def _split_units(text: str, lang: str) -> tuple[list[str], str]:
    """Words, or characters for scripts written without spaces; and the joiner."""
    if lang in ("zh", "ja", "th", "lo", "km", "my"):
        return list(text.replace(" ", "")), ""
    return text.split(), " "


@task("split_captioning")
def split_captioning(pair: CorpusPair, rng: random.Random):
    """``split caption <lang>: <first part>`` → the rest of the alt text."""
    if pair.lang == "und":
        return NotApplicable("undetermined_language")
    units, joiner = _split_units(pair.alt_text, pair.lang)
    if len(units) < 3:
        return NotApplicable("caption_too_short")
    cut = rng.randint(1, len(units) - 2)
    prefix = f"split caption {pair.lang}: {joiner.join(units[:cut])}"
    return _example(pair, "split_captioning", prefix, joiner.join(units[cut:]))


@task("ocr")
def ocr(pair: CorpusPair, rng: random.Random):
    """``ocr`` → the text read in the image, in reading order."""
    if not pair.ocr_text:
        return NotApplicable("no_text_in_image")
    return _example(pair, "ocr", "ocr", pair.ocr_text)
