"""A mixture spec: the job's config, as JSON or as code.

    {"sources": {NAME: {"kind": "corpus" | "coco" | "openimages" | "vqa" | "text", …paths}},
     "tasks": {TASK: {"source": NAME, "rate": R}},   # or "mixture": a registered mixture
     "seed": 0, "num_shards": 4, "validation_fraction": 0.05, "format": "arrayrecord",
     "style": "pali", "name": "my_mixture"}

A task's ``source`` may be left out where exactly one source gives the records it reads. Paths
in a spec file are relative to the file's folder. Unknown keys, a key given twice, an unknown
task, source kind or format, and a task whose source gives another kind of record are errors
that say so before any work starts.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os

from pipelines.mixture.formats import DEFAULT_FORMAT, check_format
from pipelines.mixture.prompts import DEFAULT_STYLE, check_style
from pipelines.mixture.registry import repeated
from pipelines.mixture.tasks import MIXTURES, TASKS, Mixture

SPEC_KEYS = ("sources", "tasks", "mixture", "seed", "num_shards", "validation_fraction", "format",
             "style", "name")
# Each source kind: (its required path keys, its optional keys, the record kinds it gives).
SOURCE_KINDS = {
    "corpus": (("path",), (), ("corpus", "text")),
    "coco": (("annotations", "images"), ("lang",), ("labelled_image",)),
    "openimages": (("boxes", "labels", "images"), ("lang",), ("labelled_image",)),
    "vqa": (("path", "images"), (), ("vqa",)),
    "text": (("path",), (), ("text",)),
}
LIST_KEYS = ("annotations", "boxes")  # keys that take one path or a list ("path" too, but vqa/text)


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    options: dict  # path keys → a path or a list of paths; "lang"

    def __post_init__(self):
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source {self.name!r}: unknown kind {self.kind!r}; expected one "
                             f"of {sorted(SOURCE_KINDS)}")
        required, optional, _ = SOURCE_KINDS[self.kind]
        missing = [k for k in required if k not in self.options]
        unknown = sorted(set(self.options) - set(required) - set(optional))
        if missing or unknown:
            raise ValueError(f"source {self.name!r} of kind {self.kind!r} needs keys "
                             f"{list(required)} (optional {list(optional)}); "
                             f"missing {missing}, unknown {unknown}")

    @property
    def gives(self) -> tuple[str, ...]:
        return SOURCE_KINDS[self.kind][2]

    def paths(self, key: str) -> list[str]:
        value = self.options[key]
        return [value] if isinstance(value, str) else list(value)

    def folders(self) -> list[str]:
        """Every path the source reads (the output must not be one of them)."""
        return [p for k in SOURCE_KINDS[self.kind][0] for p in self.paths(k)]


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    name: str
    source: str
    rate: float


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    sources: tuple[SourceSpec, ...]
    tasks: tuple[TaskSpec, ...]
    seed: int = 0
    num_shards: int = 4
    validation_fraction: float = 0.05
    format: str = DEFAULT_FORMAT
    style: str = DEFAULT_STYLE  # of the prompts: "pali" or "paligemma" (prompts.py)
    name: str = "custom"  # the registered mixture the tasks came from, if any

    def __post_init__(self):
        if self.num_shards < 1:
            raise ValueError("num_shards must be ≥ 1")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        check_style(self.style)
        check_format(self.format)
        Mixture(self.name, tuple((t.name, t.rate) for t in self.tasks))  # names, rates, repeats
        sources = self.source_map
        for t in self.tasks:
            if t.source not in sources:
                raise ValueError(f"task {t.name!r}: no source named {t.source!r} "
                                 f"(have {sorted(sources)})")
            kind = TASKS.get(t.name).source
            if kind not in sources[t.source].gives:
                raise ValueError(f"task {t.name!r} reads {kind} records; source {t.source!r} "
                                 f"of kind {sources[t.source].kind!r} gives "
                                 f"{list(sources[t.source].gives)}")

    @property
    def source_map(self) -> dict[str, SourceSpec]:
        return {s.name: s for s in self.sources}

    @property
    def rates(self) -> dict[str, float]:
        return {t.name: t.rate for t in self.tasks}

    def to_dict(self) -> dict:
        return {"sources": {s.name: {"kind": s.kind, **s.options} for s in self.sources},
                "tasks": {t.name: {"source": t.source, "rate": t.rate} for t in self.tasks},
                "name": self.name, "seed": self.seed, "num_shards": self.num_shards,
                "validation_fraction": self.validation_fraction, "format": self.format,
                "style": self.style}

    def digest(self) -> str:
        """sha256 of the spec as canonical JSON (recorded in info.json)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict, base_dir: str = ".") -> "MixtureSpec":
        unknown = set(data) - set(SPEC_KEYS)
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; expected {', '.join(SPEC_KEYS)}")
        sources = tuple(_source(name, dict(opts), base_dir)
                        for name, opts in data.get("sources", {}).items())
        if ("tasks" in data) == ("mixture" in data):
            raise ValueError("a mixture spec gives either \"tasks\" ({task: {\"source\", "
                             "\"rate\"}}) or \"mixture\" (a registered name)")
        name = data.get("mixture") or data.get("name", "custom")
        tasks = data["tasks"] if "tasks" in data else {
            t: {"rate": r} for t, r in MIXTURES.get(name).rates}
        rest = {k: data[k] for k in SPEC_KEYS[3:-1] if k in data}
        return cls(sources=sources, tasks=tuple(_task(t, opts, sources) for t, opts in tasks.items()),
                   name=name, **rest)

    @classmethod
    def from_file(cls, path: str, corpus: str | None = None) -> "MixtureSpec":
        """The spec in ``path``; ``corpus`` (a folder) becomes (or replaces) its source
        ``"corpus"``."""
        with open(path, encoding="utf-8") as f:
            data = json.load(f, object_pairs_hook=_refuse_repeated_keys)
        if corpus is not None:
            data.setdefault("sources", {})["corpus"] = {"kind": "corpus",
                                                        "path": os.path.abspath(corpus)}
        try:
            return cls.from_dict(data, os.path.dirname(os.path.abspath(path)))
        except (KeyError, ValueError) as e:
            raise type(e)(f"{path}: {e.args[0]}") from None


def _source(name: str, options: dict, base_dir: str) -> SourceSpec:
    kind = options.pop("kind", None)
    if kind is None:
        raise ValueError(f"source {name!r} needs a \"kind\" ({', '.join(SOURCE_KINDS)})")
    resolve = lambda p: p if "://" in p else os.path.normpath(os.path.join(base_dir, p))
    for key in SOURCE_KINDS.get(kind, ((), (), ()))[0]:
        if key in options:
            value = options[key]
            options[key] = resolve(value) if isinstance(value, str) else [resolve(p) for p in value]
    return SourceSpec(name=name, kind=kind, options=options)


def _task(name: str, options: dict, sources: tuple[SourceSpec, ...]) -> TaskSpec:
    unknown = set(options) - {"source", "rate"}
    if unknown:
        raise ValueError(f"task {name!r}: unknown keys {sorted(unknown)}; expected source, rate")
    source = options.get("source")
    if source is None:  # the one source that gives what the task reads
        kind = TASKS.get(name).source
        able = [s.name for s in sources if kind in s.gives]
        if len(able) != 1:
            raise ValueError(f"task {name!r} reads {kind} records and "
                             + (f"{len(able)} sources give them ({able}): name one"
                                if able else "no source in the spec gives them"))
        source = able[0]
    return TaskSpec(name=name, source=source, rate=float(options.get("rate", 1.0)))


def _refuse_repeated_keys(pairs: list[tuple]) -> dict:
    """json.load keeps the last of two equal keys; a spec that names a task twice is an error."""
    twice = repeated(k for k, _ in pairs)
    if twice:
        raise ValueError(f"keys given twice: {twice}")
    return dict(pairs)


def corpus_spec(corpus: str, mixture: str = "default", **options) -> MixtureSpec:
    """The registered ``mixture`` over one corpus folder (``openwebli mixture --corpus``)."""
    return MixtureSpec.from_dict({"sources": {"corpus": {"kind": "corpus", "path": corpus}},
                                  "mixture": mixture, **options})
