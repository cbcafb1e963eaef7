"""The safety job (``openwebli filter``): a corpus folder through the safety stage alone.

Reads a finished folder of annotated pairs (a corpus, or any folder of ``AnnotatedPair``
subtypes) and writes the pairs it keeps, of the same type, to a new folder with ``rejects/``,
``stats.json`` (the ``safety`` stage's seen / kept / rejected, and ``safety_actions``: what was
redacted and blurred) and ``info.json``.
"""
from __future__ import annotations

import dataclasses

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.accounting import WriteStats, count_stage
from pipelines.corpus_io import (WriteRecords, WriteRejects, check_not_inside,
                                 input_record_type, read_parquet_records, run_to_folder)
from pipelines.safety.checks import STAGE, SafetyConfig
from pipelines.safety.transforms import Safety

def build_filter(p, input_folder: str, output: str, config: SafetyConfig, record_cls) -> None:
    pairs = read_parquet_records(p, "Pairs", [FileSystems.join(input_folder, "part-*.parquet")],
                                 record_cls)
    kept, rejects, actions = pairs | "Safety" >> Safety(config)
    kept | "WritePairs" >> WriteRecords(output, record_cls)
    rejects | "WriteRejects" >> WriteRejects(output)
    count_stage(STAGE, pairs, kept, rejects) | "Stats" >> WriteStats(
        output, {"safety_actions": actions})


def run_filter_job(input_folder: str, output: str, config: SafetyConfig,
                   options: PipelineOptions | None = None, force: bool = False) -> dict:
    """Run the safety job to completion and return its stats; skip a finished folder."""
    record_cls = input_record_type(input_folder, "filter")
    check_not_inside(output, [input_folder])
    return run_to_folder(output, record_cls,
                         {"input": input_folder, "safety": dataclasses.asdict(config)},
                         lambda p: build_filter(p, input_folder, output, config, record_cls),
                         options, force)
