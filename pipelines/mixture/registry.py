"""A strict registry of named things (tasks, mixtures), in seqio's manner. Pure: no Beam.

Names are snake_case words; adding a name twice is an error, and asking for an unknown one is an
error that names the closest registered ones. Beam workers receive names and look them up here,
never pickled closures.
"""
from __future__ import annotations

import difflib
import re
from typing import Generic, TypeVar

T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def repeated(names) -> list[str]:
    """The names that occur more than once, sorted."""
    seen, twice = set(), set()
    for name in names:
        (twice if name in seen else seen).add(name)
    return sorted(twice)


class Registry(Generic[T]):
    """Named ``kind``s (``"task"``, ``"mixture"``)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if not _NAME.match(name):
            raise ValueError(f"{self.kind} names are snake_case words, got {name!r}")
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}{hint} (have {self.names()})")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
