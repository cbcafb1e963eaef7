"""Small helpers shared by the stage transforms."""
from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from schemas import Rejection

REJECTED = "rejected"  # the tag of every stage's rejects output


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def make_pipeline(options: PipelineOptions | None = None) -> beam.Pipeline:
    """A Pipeline for ``options``. Without a ``--runner`` it runs on Beam's FnApiRunner, the
    runner the DirectRunner uses for batch jobs (``--direct_num_workers`` and
    ``--direct_running_mode`` apply), set up as the DirectRunner sets it up.

    Beam 2.77's DirectRunner first tries its Prism runner, a Go binary it downloads from GitHub
    at run time. Nothing is downloaded at run time here, and where there is no network the try
    costs ~0.6 s a job before it falls back; ``--runner DirectRunner`` still gets Beam's choice.
    """
    options = options or PipelineOptions()
    if options.view_as(StandardOptions).runner is not None:
        return beam.Pipeline(options=options)
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    runner = fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)))
    return beam.Pipeline(runner=runner, options=options)


def par_do_with_rejects(pcoll, label: str, dofn: beam.DoFn, *args):
    """Apply a DoFn that tags its rejections REJECTED; return (kept, rejected)."""
    out = pcoll | label >> beam.ParDo(dofn, *args).with_outputs(REJECTED, main="kept")
    return out.kept, out[REJECTED]


def routed(item):
    """A stage's output: a Rejection goes to the REJECTED tag, anything else to the main one."""
    return beam.pvalue.TaggedOutput(REJECTED, item) if isinstance(item, Rejection) else item


def split_errors(pcoll, label: str, error_type, stage: str):
    """Split a handler's output into (results, Rejections) where errors are ``error_type``
    objects with ``record``, ``reason`` and ``detail``."""

    def route(item):
        if isinstance(item, error_type):
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection.of(item.record, stage, item.reason, item.detail))
        else:
            yield item

    out = pcoll | label >> beam.FlatMap(route).with_outputs(REJECTED, main="kept")
    return out.kept, out[REJECTED]


def dead_letters_to_rejections(dlq, label: str, stage: str, reason: str,
                               record_of=lambda item: item):
    """RunInference's dead-letter output (failed batches) → one Rejection per record."""

    def explode(failed):
        batch, error = failed
        for item in batch:
            yield Rejection.of(record_of(item), stage, reason, f"{type(error).__name__}: {error}")

    return dlq.failed_inferences | label >> beam.FlatMap(explode)
