"""The score job (``openwebli score``): a folder of annotated pairs through the score stage
alone: the contrastive score of each pair, then the top-k% cut (``pipelines/score/cut.py``).

Reads a finished folder of ``AnnotatedPair`` (e.g. ``openwebli filter``'s output) or
``CorpusPair`` records (a corpus, re-scored: its old scores are replaced) and writes the kept
``CorpusPair`` records, ``rejects/``, ``stats.json`` (the ``score`` stage's counts,
``score_threshold`` and ``score_cut``: thresholds, seen and kept pairs per language) and
``info.json``.
"""
from __future__ import annotations

import dataclasses

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.corpus_io import (WriteRecords, WriteRejects, check_not_inside,
                                 input_record_type, read_parquet_records, run_to_folder)
from pipelines.score.cut import CutConfig
from pipelines.score.transforms import Score
from schemas import AnnotatedPair, CorpusPair


def _annotated(pair) -> AnnotatedPair:
    """The pair without its old score (a CorpusPair read back is scored again)."""
    fields = {f.name: getattr(pair, f.name) for f in dataclasses.fields(AnnotatedPair)}
    return AnnotatedPair(**fields)


def build_score(p, input_folder: str, output: str, scorer_spec: str, cut: CutConfig,
                kind: str, record_cls) -> None:
    import apache_beam as beam

    pairs = read_parquet_records(p, "Pairs", [FileSystems.join(input_folder, "part-*.parquet")],
                                 record_cls)
    if record_cls is CorpusPair:
        pairs = pairs | "Unscored" >> beam.Map(_annotated)
    kept, rejects, threshold, report = pairs | "Score" >> Score(scorer_spec, cut, kind)
    kept | "WritePairs" >> WriteRecords(output, CorpusPair)
    rejects | "WriteRejects" >> WriteRejects(output)
    count_stage("score", pairs, kept, rejects) | "Stats" >> WriteStats(
        output, {"score_threshold": threshold, "score_cut": report})


def run_score_job(input_folder: str, output: str, scorer_spec: str, cut: CutConfig,
                  kind: str = "auto", options: PipelineOptions | None = None,
                  force: bool = False) -> dict:
    """Run the score job to completion and return its stats; skip a finished folder."""
    record_cls = input_record_type(input_folder, "score")
    check_not_inside(output, [input_folder])
    config = {"input": input_folder, "scorer": scorer_spec, "score_kind": kind,
              "cut": dataclasses.asdict(cut)}
    return run_to_folder(output, CorpusPair, config,
                         lambda p: build_score(p, input_folder, output, scorer_spec, cut, kind,
                                               record_cls), options, force)
