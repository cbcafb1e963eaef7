"""Beam transform of the exact-dedup stage: one record per sha256 of the image as served."""
from __future__ import annotations

import apache_beam as beam

from pipelines.beam_util import REJECTED, par_do_with_rejects
from schemas import Rejection


class _KeepFirstFn(beam.DoFn):
    """(sha256, records) → the record with the smallest pair id; the others rejected."""

    def process(self, item):
        _, records = item
        records = sorted(records, key=lambda r: r.pair_id)
        yield records[0]
        for dup in records[1:]:
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection.of(
                dup, "dedup", "duplicate_sha256", f"same bytes as {records[0].pair_id}"))


class ExactDedup(beam.PTransform):
    """Image records → (unique by sha256, rejected duplicates). Deterministic: smallest id wins."""

    def expand(self, records):
        grouped = (records | "KeyBySha" >> beam.Map(lambda r: (r.sha256, r))
                   | "GroupBySha" >> beam.GroupByKey())
        return par_do_with_rejects(grouped, "KeepFirst", _KeepFirstFn())
