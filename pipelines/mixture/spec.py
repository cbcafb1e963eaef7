"""A mixture spec: the job's config. Which mixture (a registered one, or tasks with rates given
here), how many shards to write, and the prompt style."""
from __future__ import annotations

import dataclasses
import json

from pipelines.mixture.prompts import DEFAULT_STYLE, check_style
from pipelines.mixture.registry import repeated
from pipelines.mixture.tasks import MIXTURES, Mixture

SPEC_KEYS = ("mixture", "rates", "num_shards", "style")


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    mixture: Mixture
    num_shards: int = 4
    style: str = DEFAULT_STYLE  # of the prompts: "pali" or "paligemma" (prompts.py)

    def __post_init__(self):
        if self.num_shards < 1:
            raise ValueError("num_shards must be ≥ 1")
        check_style(self.style)

    @property
    def rates(self) -> dict[str, float]:
        return dict(self.mixture.rates)

    @classmethod
    def of(cls, rates: dict[str, float] | None = None, mixture: str | None = None,
           num_shards: int = 4, style: str = DEFAULT_STYLE) -> "MixtureSpec":
        """A registered ``mixture`` by name, or a new one of the tasks and ``rates`` given."""
        if (rates is None) == (mixture is None):
            raise ValueError("a mixture spec gives either \"mixture\" (a registered name) or "
                             "\"rates\" ({task: rate})")
        chosen = MIXTURES.get(mixture) if mixture else Mixture("custom", tuple(rates.items()))
        return cls(mixture=chosen, num_shards=num_shards, style=style)

    @classmethod
    def from_file(cls, path: str) -> "MixtureSpec":
        with open(path, encoding="utf-8") as f:
            data = json.load(f, object_pairs_hook=_refuse_repeated_keys)
        unknown = set(data) - set(SPEC_KEYS)
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected {', '.join(SPEC_KEYS)}")
        return cls.of(**data)


def _refuse_repeated_keys(pairs: list[tuple]) -> dict:
    """json.load keeps the last of two equal keys; a spec that names a task twice is an error."""
    twice = repeated(k for k, _ in pairs)
    if twice:
        raise ValueError(f"keys given twice: {twice}")
    return dict(pairs)


DEFAULT_SPEC = MixtureSpec(mixture=MIXTURES.get("default"))
