"""The result of a filter: keep, or drop with a reason (counted and written to rejects)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    keep: bool
    reason: str = ""  # empty when kept; a short snake_case reason when dropped
    detail: str = ""

    @classmethod
    def ok(cls) -> "Verdict":
        return cls(True)

    @classmethod
    def drop(cls, reason: str, detail: str = "") -> "Verdict":
        return cls(False, reason, detail)
