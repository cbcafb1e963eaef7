"""count_stage: one combine gives a stage's seen / kept / rejected-by-reason rows."""
import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.accounting import count_stage, stats_from_counts
from schemas import Rejection


def _rejection(reason: str) -> Rejection:
    return Rejection(record_id="r", url="http://example.com/", stage="fetch", reason=reason)


def test_counts_a_stage_and_an_empty_one():
    with BeamTestPipeline() as p:
        seen = p | "Seen" >> beam.Create(range(5))
        kept = p | "Kept" >> beam.Create(range(2))
        rejected = p | "Rejected" >> beam.Create(
            [_rejection("http_404"), _rejection("http_404"), _rejection("too_small")])
        empty = p | "Empty" >> beam.Create([])
        rows = (count_stage("fetch", seen, kept, rejected),
                count_stage("dedup", empty, empty, empty),
                count_stage("archive", p | "Counts" >> beam.Create([3, 4]), empty, empty,
                            seen_is_count=True)) | beam.Flatten()
        assert_that(rows, equal_to([
            ("fetch", "seen", 5), ("fetch", "kept", 2), ("fetch", "rejected:http_404", 2),
            ("fetch", "rejected:too_small", 1), ("dedup", "seen", 0), ("dedup", "kept", 0),
            ("archive", "seen", 7), ("archive", "kept", 0)]))


def test_stats_balance_only_when_kept_and_rejected_add_up():
    stats = stats_from_counts([("fetch", "seen", 5), ("fetch", "kept", 2),
                               ("fetch", "rejected:http_404", 3), ("dedup", "seen", 4),
                               ("dedup", "kept", 3)])
    assert stats["stages"]["fetch"] == {"seen": 5, "kept": 2, "rejected": {"http_404": 3},
                                        "balanced": True}
    assert not stats["stages"]["dedup"]["balanced"]
