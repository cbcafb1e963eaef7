"""Self-describing stage folders: Parquet shards, ``rejects/``, ``info.json``, ``stats.json``,
``COMPLETED``. A folder with ``COMPLETED`` is finished and a rerun skips it."""
from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import logging
import os
import time

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.beam_util import make_pipeline
from schemas import SCHEMA_VERSION, Rejection, arrow_schema, from_row, to_row

COMPLETED = "COMPLETED"
log = logging.getLogger("openwebli.job")


def is_completed(folder: str) -> bool:
    return FileSystems.exists(FileSystems.join(folder, COMPLETED))


def mark_completed(folder: str) -> None:
    with FileSystems.create(FileSystems.join(folder, COMPLETED)) as f:
        f.write(datetime.datetime.now(datetime.timezone.utc).isoformat().encode())


def write_info(folder: str, record_cls, config, extra: dict | None = None) -> None:
    """``info.json``: the record type, schema version, Arrow schema, the job's config and
    whatever else the job describes itself with (``extra``)."""
    info = {
        "record": record_cls.__name__,
        "schema_version": SCHEMA_VERSION,
        "arrow_schema": arrow_schema(record_cls).to_string(),
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config,
        **(extra or {}),
    }
    write_json(folder, "info.json", info)


def write_json(folder: str, name: str, data: dict) -> None:
    with FileSystems.create(FileSystems.join(folder, name)) as f:
        f.write(json.dumps(data, indent=2, ensure_ascii=False, default=str).encode("utf-8"))


def read_json(folder: str, name: str) -> dict:
    with FileSystems.open(FileSystems.join(folder, name)) as f:
        return json.loads(f.read().decode("utf-8"))


class WriteRecords(beam.PTransform):
    """Records of one type → ``<folder>/part-*.parquet`` with that type's Arrow schema."""

    def __init__(self, folder: str, record_cls, num_shards: int = 0):
        super().__init__()
        self.folder = folder
        self.record_cls = record_cls
        self.num_shards = num_shards

    def expand(self, records):
        return (records | "ToRows" >> beam.Map(to_row)
                | "Parquet" >> beam.io.WriteToParquet(
                    FileSystems.join(self.folder, "part"), arrow_schema(self.record_cls),
                    file_name_suffix=".parquet", num_shards=self.num_shards))


class WriteRejects(WriteRecords):
    """Rejections → ``<folder>/rejects/part-*.parquet`` (one ``reason`` column among others)."""

    def __init__(self, folder: str):
        super().__init__(FileSystems.join(folder, "rejects"), Rejection)


def read_parquet_records(p, label: str, patterns: list[str], record_cls):
    """Records of type ``record_cls`` from the Parquet files matching ``patterns`` (a Beam read:
    any filesystem, split over the workers)."""
    return (p | f"{label}Files" >> beam.Create(patterns)
            | f"Read{label}" >> beam.io.ReadAllFromParquet()
            | f"To{label}" >> beam.Map(functools.partial(from_row, record_cls)))


def input_record_type(folder: str, command: str):
    """The record type (AnnotatedPair or CorpusPair) of a finished folder of pairs that
    ``openwebli <command>`` reads; a plain error for anything else."""
    from schemas import AnnotatedPair, CorpusPair

    types = {cls.__name__: cls for cls in (AnnotatedPair, CorpusPair)}
    if not is_completed(folder):
        state = "is not finished (no COMPLETED marker)" if FileSystems.exists(folder) else (
            "does not exist")
        raise FileNotFoundError(f"input folder {folder} {state}")
    record = read_json(folder, "info.json").get("record")
    if record not in types:
        raise ValueError(f"{folder} holds {record} records; `openwebli {command}` reads "
                         f"folders of {' or '.join(types)} (a corpus folder)")
    return types[record]


def read_records(folder: str, record_cls) -> list:
    """All records of a finished local folder (for tests, the mixture driver and reports)."""
    files = sorted(f for f in os.listdir(folder) if f.startswith("part-"))
    rows = []
    for name in files:
        rows.extend(pq.read_table(os.path.join(folder, name)).to_pylist())
    return [from_row(record_cls, r) for r in rows]


# What a stage writes in its folder: anything else there is the user's, and never deleted.
STAGE_FILES = frozenset({"info.json", "stats.json", COMPLETED})
STAGE_DIRS = frozenset({"rejects", "texts", "archived"})
STAGE_PREFIXES = ("part-", "beam-temp-")  # shards, Beam's temporary shard folders


def _entries(folder: str) -> list[tuple[str, str]]:
    """(top-level name, path to delete) of everything under ``folder`` (local or any Beam
    filesystem, where folders are only name prefixes)."""
    if "://" not in folder:
        if not os.path.exists(folder):
            return []
        return [(n, os.path.join(folder, n)) for n in sorted(os.listdir(folder))]
    root = folder.rstrip("/") + "/"  # an object store has no folder to test for: list the prefix
    matches = FileSystems.match([root + "**"])[0].metadata_list
    return [(m.path[len(root):].split("/", 1)[0], m.path) for m in matches]


def _is_stage_entry(name: str, also: frozenset[str]) -> bool:
    return (name in STAGE_FILES or name in STAGE_DIRS or name in also
            or name.startswith(STAGE_PREFIXES))


def clear_folder(folder: str, also: frozenset[str] = frozenset()) -> None:
    """Remove what an earlier run left in ``folder`` (its shards, rejects, markers), so that a
    rerun never returns old records beside new ones (a run with fewer shards leaves the old
    run's others behind). A folder that holds anything no stage writes (nor ``also``, the job's
    own folder names) is refused."""
    entries = _entries(folder)
    foreign = sorted({name for name, _ in entries if not _is_stage_entry(name, also)})
    if foreign:
        raise ValueError(f"{folder} holds files that no openwebli stage wrote "
                         f"({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}); "
                         "refusing to delete them: give a new or empty output folder")
    if entries:
        log.info("%s: removing the %d files of an earlier run", folder, len(entries))
        FileSystems.delete([path for _, path in entries])


def check_not_inside(output: str, inputs) -> None:
    """Refuse an output folder that is one of the job's input folders or holds one (a rerun
    clears its output first)."""
    out = os.path.abspath(output)
    for folder in inputs:
        folder_abs = os.path.abspath(folder)
        if folder_abs == out or folder_abs.startswith(out.rstrip(os.sep) + os.sep):
            raise ValueError(f"output folder {output} would overwrite the input {folder}")


def run_to_folder(output: str, record_cls, config, build, options=None, force: bool = False,
                  own_names: frozenset[str] = frozenset(), describe=None) -> dict:
    """Run the Beam job that ``build(pipeline)`` adds, writing ``output``; return its stats.

    A folder marked COMPLETED is skipped unless ``force``; otherwise whatever an earlier run
    left is removed first (``own_names``: the job's own top-level names, beside every stage's),
    and COMPLETED is written last. ``info.json`` records ``config`` and what ``describe(stats)``
    returns (it may write more of the folder: it runs before COMPLETED)."""
    if is_completed(output) and not force:
        log.info("%s is COMPLETED; skipping (pass force=True / --force to rebuild)", output)
        return read_json(output, "stats.json")
    clear_folder(output, own_names)
    start = time.time()
    with make_pipeline(options) as p:
        build(p)
    extra = describe(read_json(output, "stats.json")) if describe else None
    write_info(output, record_cls, config, extra)
    mark_completed(output)
    log.info("%s job finished in %.1f s", record_cls.__name__, time.time() - start)
    return read_json(output, "stats.json")
