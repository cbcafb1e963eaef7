"""The mixture job (``openwebli mixture``): corpus folder → task examples → ArrayRecord shards.

Each shard file holds ``schemas.codec``-encoded TaskExamples, one per record, written with
``group_size:1`` so Grain can read any record at random. ArrayRecord writes local paths only.
"""
from __future__ import annotations

import collections
import hashlib
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.beam_util import REJECTED
from pipelines.corpus_io import check_not_inside, is_completed, run_to_folder
from pipelines.mixture.spec import MixtureSpec
from pipelines.mixture.tasks import TASKS, NotApplicable, task_rng
from schemas import CorpusPair, Rejection, TaskExample, from_row
from schemas.codec import encode

TASK_OUTCOMES = "task_outcomes"  # (task, "examples" | "skipped:<reason>")
SHARD_PREFIX = "mixture"


class MakeExamplesFn(beam.DoFn):
    """CorpusPair → its TaskExamples; a pair no task applies to is rejected. Receives task
    names and rates only, and looks the tasks up on the worker."""

    def __init__(self, rates: dict[str, float], style: str):
        self.rates, self.style = dict(rates), style

    def setup(self):
        self.tasks = {name: TASKS.get(name) for name in self.rates}

    def process(self, pair: CorpusPair):
        made = 0
        for name, rate in self.rates.items():
            rng = task_rng(name, pair.pair_id)
            sampled = rng.random() < rate
            built = self.tasks[name](pair, rng, self.style) if sampled else NotApplicable(
                "not_sampled")
            if isinstance(built, NotApplicable):
                yield beam.pvalue.TaggedOutput(TASK_OUTCOMES, (name, f"skipped:{built.reason}"))
                continue
            made += 1
            for example in built:
                yield beam.pvalue.TaggedOutput(TASK_OUTCOMES, (name, "examples"))
                yield example
        if not made:
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection.of(pair, "mixture",
                                                                  "no_task_applies"))


def shard_of(example: TaskExample, num_shards: int) -> int:
    digest = hashlib.sha256(f"{example.task}/{example.source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


class WriteShardFn(beam.DoFn):
    def __init__(self, output: str, num_shards: int):
        self.output, self.num_shards = output, num_shards

    def process(self, item):
        from array_record.python.array_record_module import ArrayRecordWriter

        shard, examples = item
        path = os.path.join(self.output,
                            f"{SHARD_PREFIX}-{shard:05d}-of-{self.num_shards:05d}.array_record")
        writer = ArrayRecordWriter(path, "group_size:1")
        for ex in sorted(examples, key=lambda e: (e.task, e.source_id)):
            writer.write(encode(ex))
        writer.close()
        yield path


def _task_summary(outcomes) -> dict:
    summary: dict = collections.defaultdict(lambda: {"examples": 0, "skipped": {}})
    for task, outcome in outcomes:
        if outcome == "examples":
            summary[task]["examples"] += 1
        else:
            reason = outcome.split(":", 1)[1]
            summary[task]["skipped"][reason] = summary[task]["skipped"].get(reason, 0) + 1
    return dict(sorted(summary.items()))


def build_mixture(pairs, output: str, spec: MixtureSpec):
    make = MakeExamplesFn(spec.rates, spec.style)
    out = pairs | "MakeExamples" >> beam.ParDo(make).with_outputs(REJECTED, TASK_OUTCOMES,
                                                                   main="examples")
    examples, rejects = out.examples, out[REJECTED]
    (examples | "KeyByShard" >> beam.Map(lambda e: (shard_of(e, spec.num_shards), e))
     | "GroupShards" >> beam.GroupByKey()
     | "WriteShards" >> beam.ParDo(WriteShardFn(output, spec.num_shards)))
    used = examples | "SourceIds" >> beam.Map(lambda e: e.source_id) | beam.Distinct()
    tasks = out[TASK_OUTCOMES] | "TaskSummary" >> beam.combiners.ToList() | beam.Map(_task_summary)
    counts = count_stage("mixture", pairs, used, rejects)
    counts | "Stats" >> WriteStats(output, {"tasks": tasks})


def run_mixture_job(corpus: str, output: str, spec: MixtureSpec,
                    options: PipelineOptions | None = None, force: bool = False) -> dict:
    """Build the mixture folder from a finished corpus folder; return its stats."""
    if not is_completed(corpus):
        raise FileNotFoundError(f"{corpus} is not a finished corpus folder (no COMPLETED marker)")
    check_not_inside(output, [corpus])
    for name in spec.rates:
        source = TASKS.get(name).source
        if source != "corpus":
            raise ValueError(f"task {name!r} reads {source} records; the mixture job reads a "
                             "corpus folder only, so far")
    config = {"corpus": corpus, "mixture": spec.mixture.name, "rates": spec.rates,
              "style": spec.style, "num_shards": spec.num_shards, "encoding": "schemas.codec"}

    def build(p):
        os.makedirs(output, exist_ok=True)  # ArrayRecord writes local paths only
        pairs = (p | "ReadCorpus" >> beam.io.ReadFromParquet(os.path.join(corpus, "part-*.parquet"))
                 | "ToPairs" >> beam.Map(lambda row: from_row(CorpusPair, row)))
        build_mixture(pairs, output, spec)

    return run_to_folder(output, TaskExample, config, build, options, force)
