"""The mixture job (``openwebli mixture``): sources → every example each task can build →
one folder per task and split, and one image store.

    <output>/<task>/train/part-00000-of-00004.<ext>   examples: task, image_key, prefix, target,
    <output>/<task>/validation/…                        lang, source_id (one shard set a split)
    <output>/<task>/info.json                          the task's features, counts, rate, spec hash
    <output>/images/part-00000-of-00004.<ext>          image_key, image: each image once
    <output>/images/index-00000-of-00004.parquet       the image keys of each shard, in order
    <output>/rejects/, stats.json, info.json, COMPLETED (written last)

An image's bytes are stored once however many tasks use it; examples name it by ``image_key``
(the first 32 hex digits of its sha256; "" for text-only examples). Image shard ``k`` holds the
keys whose value is ``k`` modulo the shard count, sorted, so a reader finds an image from its
key and the shard's index. The split is drawn per image (per text for text-only examples), so
no image is in both splits. Shards are written sorted, so the same spec gives the same bytes.
"""
from __future__ import annotations

import collections
import hashlib
import os

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.beam_util import REJECTED
from pipelines.corpus_io import WriteRejects, check_not_inside, is_completed, run_to_folder, write_json
from pipelines.mixture import sources as readers
from pipelines.mixture.formats import arrow_types, shard_name, write_shard
from pipelines.mixture.layout import (
    EXAMPLE_TYPES, IMAGE_TYPES, IMAGES, SPLITS, feature_names, image_key, image_shard, index_name,
)
from pipelines.mixture.spec import MixtureSpec, SourceSpec
from pipelines.mixture.tasks import TASKS, Context, NotApplicable, task_rng
from schemas import CorpusPair, PageText, Rejection, TaskExample, from_row

TASK_OUTCOMES = "task_outcomes"  # (task, "examples" | "skipped:<reason>")
IMAGE_OUT = "images"  # (image_key, image bytes)
MADE = "made"  # the id of each record that made an example


def _fraction(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2 ** 64


def split_of(key: str, seed: int, validation_fraction: float) -> str:
    """"validation" for a ``validation_fraction`` of keys (images, texts), chosen by the seed."""
    return "validation" if _fraction(f"{seed}/split/{key}") < validation_fraction else "train"


def record_id(record) -> tuple[str, str]:
    """(id, url) of a source record, for its rejection."""
    if isinstance(record, CorpusPair):
        return record.pair_id, record.image_url
    if isinstance(record, PageText):
        return record.url, record.url
    return record.image_id, ""


def record_image(record) -> bytes:
    return getattr(record, "image_bytes", None) or getattr(record, "image", b"")


class MakeExamplesFn(beam.DoFn):
    """A source record → its examples as (task, split, row) rows, its image once, and one
    outcome per task; a record no task applies to is rejected. Receives task names only and
    looks the tasks up on the worker."""

    def __init__(self, task_names: list[str], context: Context, seed: int, validation: float):
        self.task_names, self.context = list(task_names), context
        self.seed, self.validation = seed, validation

    def setup(self):
        self.tasks = [TASKS.get(name) for name in self.task_names]

    def process(self, record):
        rid, url = record_id(record)
        image = record_image(record)
        key = image_key(image)
        split = split_of(key or f"text:{rid}", self.seed, self.validation)
        made = 0
        for task in self.tasks:
            built = task(record, task_rng(task.name, rid, self.seed), self.context)
            if isinstance(built, NotApplicable):
                yield beam.pvalue.TaggedOutput(TASK_OUTCOMES, (task.name, f"skipped:{built.reason}"))
                continue
            for example in built:
                made += 1
                yield beam.pvalue.TaggedOutput(TASK_OUTCOMES, (task.name, "examples"))
                same = example.image is image  # builders pass the record's bytes on
                yield task.name, split, stored_row(example, key if same else image_key(
                    example.image))
        if made:
            yield beam.pvalue.TaggedOutput(MADE, rid)
        if made and key:
            yield beam.pvalue.TaggedOutput(IMAGE_OUT, (key, image))
        if not made:
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection(
                stage="mixture", reason="no_task_applies", record_id=rid, url=url))


def stored_row(example: TaskExample, key: str) -> dict:
    return {"task": example.task, "image_key": key, "prefix": example.prefix,
            "target": example.target, "lang": example.lang, "source_id": example.source_id}


def example_shard(row: dict, num_shards: int) -> int:
    digest = hashlib.sha256(f"{row['source_id']}\n{row['prefix']}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


class WriteExamplesFn(beam.DoFn):
    """((task, split, shard), rows) → one shard file, rows sorted; yields (task, split, count)."""

    def __init__(self, output: str, num_shards: int, fmt: str):
        self.output, self.num_shards, self.fmt = output, num_shards, fmt

    def process(self, item):
        (task, split, shard), rows = item
        rows = sorted((r for r in rows if r is not None),
                      key=lambda r: (r["source_id"], r["prefix"], r["target"]))
        path = os.path.join(self.output, task, split, shard_name(shard, self.num_shards, self.fmt))
        write_shard(path, rows, EXAMPLE_TYPES, self.fmt)
        yield task, split, len(rows)


class WriteImagesFn(beam.DoFn):
    """(shard, [(key, image)]) → ``images/part-…`` sorted by key and its key index; yields
    (count, bytes)."""

    def __init__(self, output: str, num_shards: int, fmt: str):
        self.output, self.num_shards, self.fmt = output, num_shards, fmt

    def process(self, item):
        import pyarrow as pa
        import pyarrow.parquet as pq

        shard, images = item
        rows = sorted(({"image_key": k, "image": v} for k, v in images if k),
                      key=lambda r: r["image_key"])
        folder = os.path.join(self.output, IMAGES)
        write_shard(os.path.join(folder, shard_name(shard, self.num_shards, self.fmt)), rows,
                    IMAGE_TYPES, self.fmt)
        index = pa.table({"image_key": [r["image_key"] for r in rows]}, schema=arrow_types(
            {"image_key": str}))
        pq.write_table(index, os.path.join(folder, index_name(shard, self.num_shards)))
        yield len(rows), sum(len(r["image"]) for r in rows)


def _first(values):
    return next(iter(values))


def write_examples(rows, spec: MixtureSpec, output: str):
    """(task, split, row) rows → every task's shards (empty ones too) → {task: {split: n}}."""
    n = spec.num_shards
    every = [((t.name, split, k), None) for t in spec.tasks for split in SPLITS for k in range(n)]
    keyed = rows | "KeyByShard" >> beam.Map(lambda r: ((r[0], r[1], example_shard(r[2], n)), r[2]))
    counts = ((keyed, rows.pipeline | "EveryShard" >> beam.Create(every)) | beam.Flatten()
              | "GroupShards" >> beam.GroupByKey()
              | "WriteShards" >> beam.ParDo(WriteExamplesFn(output, n, spec.format)))
    return counts | "ShardCounts" >> beam.combiners.ToList() | beam.Map(_split_counts)


def _split_counts(counts) -> dict:
    out: dict = collections.defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for task, split, count in counts:
        out[task][split] += count
    return dict(sorted(out.items()))


def write_images(images, spec: MixtureSpec, output: str):
    """(key, image) of every record that made an example → each image once → image shards →
    {"images": n, "bytes": total}."""
    n = spec.num_shards
    every = [(k, (None, None)) for k in range(n)]
    unique = (images | "GroupImages" >> beam.GroupByKey()
              | "OneCopy" >> beam.MapTuple(lambda key, copies: (key, _first(copies))))
    written = ((unique | "KeyImageShard" >> beam.Map(lambda kv: (image_shard(kv[0], n), kv)),
                images.pipeline | "EveryImageShard" >> beam.Create(every)) | "ImageShards" >> beam.Flatten()
               | "GroupImageShards" >> beam.GroupByKey()
               | "WriteImages" >> beam.ParDo(WriteImagesFn(output, n, spec.format)))
    return written | "ImageTotals" >> beam.combiners.ToList() | beam.Map(
        lambda rows: {"images": sum(c for c, _ in rows), "bytes": sum(b for _, b in rows)})


def _task_summary(counted) -> dict:
    """((task, outcome), n) rows → {task: {"examples": n, "skipped": {reason: n}}}."""
    summary: dict = collections.defaultdict(lambda: {"examples": 0, "skipped": {}})
    for (task, outcome), n in sorted(counted):
        if outcome == "examples":
            summary[task]["examples"] += n
        else:
            summary[task]["skipped"][outcome.split(":", 1)[1]] = n
    return dict(sorted(summary.items()))


def read_source(p, source: SourceSpec, kind: str):
    """The ``kind`` records of one source, and its rejections (a PCollection each)."""
    label = f"Read_{source.name}_{kind}"
    if source.kind == "corpus":
        folder = source.options["path"]
        pattern = FileSystems.join(folder, *(("texts",) if kind == "text" else ()), "part-*.parquet")
        cls = PageText if kind == "text" else CorpusPair
        if not FileSystems.match([pattern])[0].metadata_list:  # a corpus without WET texts
            records = p | label >> beam.Create([])
        else:
            records = (p | label >> beam.io.ReadFromParquet(pattern)
                       | f"{label}_Rows" >> beam.Map(lambda row, c=cls: from_row(c, row)))
        return records, p | f"{label}_NoRejects" >> beam.Create([])
    out = (p | label >> beam.Create([source])
           | f"{label}_Read" >> beam.FlatMap(read_file_source) | f"{label}_Spread" >> beam.Reshuffle()
           | f"{label}_Split" >> beam.Partition(lambda r, _: int(isinstance(r, Rejection)), 2))
    return out[0], out[1]


def read_file_source(source: SourceSpec):
    """Every record (and rejection) of a source read from files: COCO, Open Images, VQA, text."""
    o, lang = source.options, source.options.get("lang", "en")
    if source.kind == "coco":
        return readers.read_coco(source.paths("annotations"), o["images"], lang)
    if source.kind == "openimages":
        return readers.read_openimages(source.paths("boxes"), o["labels"], o["images"], lang)
    if source.kind == "vqa":
        return readers.read_vqa(source.paths("path"), o["images"])
    return readers.read_texts(source.paths("path"))


def source_labels(source: SourceSpec) -> tuple[str, ...]:
    """Every object label of a labelled-image source (object-aware VQA's "no" answers)."""
    if source.kind == "coco":
        return readers.coco_labels(source.paths("annotations"))
    if source.kind == "openimages":
        return tuple(sorted(set(readers.read_label_map(source.options["labels"]).values())))
    return ()


def build_mixture(p, spec: MixtureSpec, output: str) -> None:
    streams = collections.defaultdict(list)  # (source, record kind) → its tasks
    for t in spec.tasks:
        streams[(t.source, TASKS.get(t.name).source)].append(t.name)
    sources = spec.source_map
    examples, images, outcomes, rejects, counts = [], [], [], [], []
    for (name, kind), task_names in sorted(streams.items()):
        records, bad = read_source(p, sources[name], kind)
        stage = f"source_{name}_{kind}"
        counts.append(count_stage(stage, (records, bad) | f"{stage}_All" >> beam.Flatten(),
                                  records, bad))
        context = Context(style=spec.style, labels=source_labels(sources[name]))
        out = records | f"Make_{name}_{kind}" >> beam.ParDo(MakeExamplesFn(
            task_names, context, spec.seed, spec.validation_fraction)).with_outputs(
            REJECTED, TASK_OUTCOMES, IMAGE_OUT, MADE, main="rows")
        examples.append(out.rows)
        images.append(out[IMAGE_OUT])
        outcomes.append(out[TASK_OUTCOMES])
        rejects += [bad, out[REJECTED]]
        counts.append(count_stage(f"mixture_{name}_{kind}", records, out[MADE], out[REJECTED]))
    rows = examples | "AllRows" >> beam.Flatten()
    all_rejects = rejects | "AllRejects" >> beam.Flatten()
    all_rejects | WriteRejects(output)
    extras = {"tasks": outcomes | "AllOutcomes" >> beam.Flatten()
              | "CountOutcomes" >> beam.combiners.Count.PerElement()  # a row a task and reason
              | "Outcomes" >> beam.combiners.ToList() | "TaskSummary" >> beam.Map(_task_summary),
              "shards": write_examples(rows, spec, output),
              "image_store": write_images(images | "EveryImage" >> beam.Flatten(), spec, output)}
    counts | "AllCounts" >> beam.Flatten() | "Stats" >> WriteStats(output, extras)


def _describe(spec: MixtureSpec, output: str):
    """After the job, before COMPLETED: ``<task>/info.json`` and what the top ``info.json``
    adds to the config (features, format, rates, counts, the spec's hash)."""
    def describe(stats: dict) -> dict:
        tasks = {}
        for t in spec.tasks:
            task = TASKS.get(t.name)
            tasks[t.name] = {"source": t.source, "rate": t.rate, "record_kind": task.source,
                             "examples": stats["shards"].get(t.name, dict.fromkeys(SPLITS, 0)),
                             "description": task.description}
            write_json(os.path.join(output, t.name), "info.json", {
                "task": t.name, "format": spec.format, "features": feature_names(EXAMPLE_TYPES),
                "spec_hash": spec.digest(), "num_shards": spec.num_shards, **tasks[t.name]})
        return {"format": spec.format, "features": feature_names(EXAMPLE_TYPES), "spec_hash": spec.digest(),
                "splits": list(SPLITS), "tasks": tasks,
                "image_store": {"path": IMAGES, "features": feature_names(IMAGE_TYPES),
                                "index": "index-*.parquet", **stats["image_store"]}}
    return describe


def run_mixture_job(spec: MixtureSpec, output: str, options: PipelineOptions | None = None,
                    force: bool = False) -> dict:
    """Build the mixture folder the spec describes; return its stats."""
    if "://" in output:
        raise ValueError(f"{output}: the mixture's shard writers write local folders only, "
                         "so far; copy the folder to a bucket after the job")
    for source in spec.sources:
        if source.kind == "corpus" and not is_completed(source.options["path"]):
            raise FileNotFoundError(f"{source.options['path']} (source {source.name!r}) is not a "
                                    "finished corpus folder (no COMPLETED marker)")
        for path in source.folders():
            if "://" not in path and not os.path.exists(path):
                raise FileNotFoundError(f"source {source.name!r}: {path} does not exist")
    check_not_inside(output, [p for s in spec.sources for p in s.folders()])
    own = frozenset(TASKS.names()) | {IMAGES}  # an earlier run's tasks, not only this spec's

    def build(p):
        os.makedirs(output, exist_ok=True)
        build_mixture(p, spec, output)

    return run_to_folder(output, TaskExample, spec.to_dict(), build, options, force,
                         own_names=own, describe=_describe(spec, output))
