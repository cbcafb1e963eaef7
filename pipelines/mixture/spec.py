"""A mixture spec: which tasks, at what rate (the fraction of pairs each task samples)."""
from __future__ import annotations

import dataclasses
import json

from pipelines.mixture.tasks import TaskRegistry


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    rates: dict[str, float]  # task name → fraction of applicable pairs used, in (0, 1]
    num_shards: int = 4

    def __post_init__(self):
        if not self.rates:
            raise ValueError("a mixture needs at least one task")
        for name, rate in self.rates.items():
            TaskRegistry.get(name)  # unknown names fail here, with a suggestion
            if not 0.0 < rate <= 1.0:
                raise ValueError(f"rate of task {name!r} must be in (0, 1], got {rate}")
        if self.num_shards < 1:
            raise ValueError("num_shards must be ≥ 1")

    @classmethod
    def from_file(cls, path: str) -> "MixtureSpec":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        unknown = set(data) - {"rates", "num_shards"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected rates, num_shards")
        return cls(**data)


DEFAULT_SPEC = MixtureSpec(rates={"captioning": 1.0, "split_captioning": 1.0, "ocr": 1.0})
