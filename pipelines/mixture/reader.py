"""Reading a mixture folder: each task's examples with their images, and the read-side sampler
that draws tasks by their rates (Grain's ``MapDataset.mix`` over the per-task folders). No Beam.

Rows are dicts of the features in ``info.json`` (``task``, ``image_key``, ``prefix``,
``target``, ``lang``, ``source_id``) plus ``image``: the image's bytes from the store (``b""``
for text-only examples). Random access needs ``arrayrecord`` or ``parquet`` shards; TFRecord and
WebDataset folders are for their own streaming readers (``tf.data``, ``webdataset``).
"""
from __future__ import annotations

import glob
import logging
import os
import sys

import grain
import numpy as np
import pyarrow.parquet as pq

from pipelines.corpus_io import is_completed, read_json
from pipelines.mixture.formats import FORMATS, RANDOM_ACCESS, from_example, shard_name
from pipelines.mixture.layout import EXAMPLE_TYPES, IMAGE_TYPES, image_shard, index_name

log = logging.getLogger("openwebli.mixture")


class RowSource:
    """Random access to the rows of a set of shard files (a Grain data source)."""

    def __init__(self, paths: list[str], fmt: str, types: dict[str, type]):
        if fmt not in RANDOM_ACCESS:
            raise ValueError(f"{fmt} shards are read in order by their own readers; random access "
                             f"(the sampler, the trainer) needs one of {RANDOM_ACCESS}")
        self.paths, self.fmt, self.types = paths, fmt, types
        self._source = self._table = None

    def _open(self):
        if self.fmt == "arrayrecord":
            self._source = grain.sources.ArrayRecordDataSource(self.paths) if self.paths else []
        else:
            tables = [pq.read_table(p) for p in self.paths]
            self._table = {name: [v for t in tables for v in t.column(name).to_pylist()]
                           for name in self.types}

    def __len__(self) -> int:
        if self._source is None and self._table is None:
            self._open()
        if self._table is not None:
            return len(next(iter(self._table.values())))
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        if self._source is None and self._table is None:
            self._open()
        if self._table is not None:
            return {name: column[index] for name, column in self._table.items()}
        return from_example(self._source[index], self.types)

    def __getstate__(self):  # reopened lazily in a worker process
        return {"paths": self.paths, "fmt": self.fmt, "types": self.types, "_source": None,
                "_table": None}


class ImageStore:
    """The mixture's images by key: shard = key mod shard count, position from the shard's
    sorted key index (``images/index-*.parquet``)."""

    def __init__(self, folder: str, fmt: str, num_shards: int):
        self.folder, self.fmt, self.num_shards = folder, fmt, num_shards
        self._keys: dict[int, np.ndarray] = {}
        self._rows: dict[int, RowSource] = {}

    def shard(self, shard: int) -> tuple[np.ndarray, RowSource]:
        """(the sorted keys, the rows) of one image shard, opened once."""
        if shard not in self._keys:
            index = pq.read_table(os.path.join(self.folder, index_name(shard, self.num_shards)))
            self._keys[shard] = np.asarray(index.column("image_key").to_pylist(), dtype=object)
            path = os.path.join(self.folder, shard_name(shard, self.num_shards, self.fmt))
            self._rows[shard] = RowSource([path], self.fmt, IMAGE_TYPES)
        return self._keys[shard], self._rows[shard]

    def __getitem__(self, key: str) -> bytes:
        if not key:
            return b""
        keys, rows = self.shard(image_shard(key, self.num_shards))
        pos = int(np.searchsorted(keys, key))
        if pos >= len(keys) or keys[pos] != key:
            raise KeyError(f"image {key} is not in the mixture's image store")
        return rows[pos]["image"]

    def __getstate__(self):
        return {"folder": self.folder, "fmt": self.fmt, "num_shards": self.num_shards,
                "_keys": {}, "_rows": {}}


class MixtureFolder:
    """A finished mixture folder (``openwebli mixture``)."""

    def __init__(self, folder: str):
        if not is_completed(folder):
            raise FileNotFoundError(f"{folder} is not a finished mixture folder (no COMPLETED "
                                    "marker); run `openwebli mixture`")
        self.folder = folder
        self.info = read_json(folder, "info.json")
        if "tasks" not in self.info:
            raise ValueError(f"{folder} is a mixture of an older layout (one folder of shards); "
                             "rebuild it with `openwebli mixture --force`")
        self.format = self.info["format"]
        self.images = ImageStore(os.path.join(folder, self.info["image_store"]["path"]),
                                 self.format, self.info["config"]["num_shards"])

    @property
    def rates(self) -> dict[str, float]:
        return {name: t["rate"] for name, t in self.info["tasks"].items()}

    def count(self, task: str, split: str = "train") -> int:
        return self.info["tasks"][task]["examples"][split]

    def shard_paths(self, task: str, split: str = "train") -> list[str]:
        if task not in self.info["tasks"]:
            raise KeyError(f"no task {task!r} in {self.folder} (have {sorted(self.info['tasks'])})")
        pattern = os.path.join(self.folder, task, split, f"part-*{FORMATS[self.format]}")
        return sorted(glob.glob(pattern))

    def task_dataset(self, task: str, split: str = "train") -> grain.MapDataset:
        """One task's examples of one split, in shard order, with their images."""
        return grain.MapDataset.source(self.task_rows(task, split)).map(_WithImage(self.images))

    def sampler(self, split: str = "train", rates: dict[str, float] | None = None,
                seed: int = 0, with_images: bool = True) -> grain.MapDataset:
        """An endless dataset drawing each task in proportion to its rate (``info.json``'s, or
        ``rates`` given here), each task reshuffled every epoch from ``seed``. Tasks with no
        examples in ``split`` are left out (with a warning)."""
        rates = dict(rates or self.rates)
        unknown = sorted(set(rates) - set(self.info["tasks"]))
        if unknown:
            raise KeyError(f"no tasks {unknown} in {self.folder} (have {sorted(self.info['tasks'])})")
        empty = sorted(t for t in rates if self.count(t, split) == 0)
        if empty:
            log.warning("%s: no %s examples of %s; drawing from the other tasks", self.folder,
                        split, ", ".join(empty))
        names = [t for t in sorted(rates) if t not in empty and rates[t] > 0]
        if not names:
            raise ValueError(f"{self.folder} has no {split} examples of the tasks {sorted(rates)}")
        parts = [EpochShuffled(grain.MapDataset.source(self.task_rows(t, split)), seed + i)
                 for i, t in enumerate(names)]
        mixed = grain.MapDataset.mix(parts, [rates[t] for t in names])
        return mixed.map(_WithImage(self.images)) if with_images else mixed

    def task_rows(self, task: str, split: str = "train") -> RowSource:
        """One task's rows of one split, in shard order, without their images."""
        return RowSource(self.shard_paths(task, split), self.format, EXAMPLE_TYPES)

    def rows(self, split: str = "train", limit: int | None = None) -> list[dict]:
        """Every task's rows of ``split`` (task by task, without images), or the first
        ``limit`` of each task."""
        out: list[dict] = []
        for task in sorted(self.info["tasks"]):
            source = self.task_rows(task, split)
            out += [source[i] for i in range(len(source) if limit is None
                                             else min(len(source), limit))]
        return out


class EpochShuffled(grain.MapDataset):
    """The parent repeated without end, each epoch in a new permutation seeded from ``seed``
    and the epoch. Written here rather than Grain's ``shuffle().repeat()`` for speed: Grain's
    per-index shuffle costs ~3 ms a draw on a dataset of ten examples (a task of a small
    mixture), 6 µs on a million; one cached numpy permutation an epoch costs ~1 µs a draw."""

    def __init__(self, parent: grain.MapDataset, seed: int):
        super().__init__(parent)
        self._seed = seed
        self._epoch, self._order = -1, np.empty(0, np.int64)

    def __len__(self) -> int:
        return sys.maxsize

    def __str__(self) -> str:
        return "EpochShuffled"

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.slice(index)
        epoch, within = divmod(index, len(self._parent))
        if epoch != self._epoch:
            rng = np.random.default_rng([self._seed, epoch])
            self._epoch, self._order = epoch, rng.permutation(len(self._parent))
        return self._parent[int(self._order[within])]


class _WithImage(grain.transforms.Map):
    def __init__(self, images: ImageStore):
        self.images = images

    def map(self, row: dict) -> dict:
        return {**row, "image": self.images[row["image_key"]]}


def storage_report(folder: str) -> dict:
    """What the mixture costs on disk against one copy of its images: the image store's files
    and the examples' files, the images' own bytes (one copy each), and what storing each
    example's image with the example would take. Reads every image once."""
    mixture = MixtureFolder(folder)
    sizes: dict[str, int] = {}
    for shard in range(mixture.images.num_shards):
        keys, rows = mixture.images.shard(shard)
        sizes.update((k, len(rows[i]["image"])) for i, k in enumerate(keys))
    rows = [r for split in ("train", "validation") for r in mixture.rows(split)]
    disk = lambda sub: sum(os.path.getsize(os.path.join(d, f))
                           for d, _, files in os.walk(os.path.join(folder, sub)) for f in files)
    store = disk(mixture.info["image_store"]["path"])
    examples = sum(disk(task) for task in mixture.info["tasks"])
    one_copy = sum(sizes.values())
    return {"examples": len(rows), "images": len(sizes), "image_bytes": one_copy,
            "image_store_bytes": store, "example_bytes": examples,
            "bytes_per_example": (store + examples) / max(1, len(rows)),
            "bytes_if_copied": examples + sum(sizes.get(r["image_key"], 0) for r in rows),
            "to_one_copy": (store + examples) / max(1, one_copy)}
