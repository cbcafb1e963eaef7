"""Small helpers shared by the stage transforms."""
from __future__ import annotations

import apache_beam as beam

from schemas import Rejection

REJECTED = "rejected"  # the tag of every stage's rejects output


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
