"""The global top-k% cut: one score threshold over the whole corpus, not per bundle or shard."""
from __future__ import annotations

import apache_beam as beam

from pipelines.beam_util import REJECTED
from schemas import Rejection

QUANTILE_RESOLUTION = 10_000  # the threshold is a quantile on a grid of this many steps


def _rank_key(pair) -> tuple[float, str]:
    """Scores tie-break on the pair id, so the cut is a total order and deterministic."""
    return (pair.score, pair.pair_id)


def threshold_index(keep_fraction: float) -> int:
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    return round((1.0 - keep_fraction) * QUANTILE_RESOLUTION)


class _CutFn(beam.DoFn):
    def process(self, pair, quantiles, index):
        threshold = tuple(quantiles[index]) if quantiles else None
        if threshold is not None and _rank_key(pair) > threshold:
            yield pair
        else:
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection.of(
                pair, "score", "below_score_threshold", f"{pair.score:.4f}"))


class TopFraction(beam.PTransform):
    """Scored pairs → (kept, rejected, threshold) keeping the top ``keep_fraction`` by score.

    The threshold is the (1 - keep_fraction) quantile of (score, pair id) over the whole
    PCollection, from Beam's ApproximateQuantiles: exact while the corpus fits the combiner's
    buffers (millions of pairs), and within its rank error bound (ε = 1/resolution) beyond.
    Output ``threshold`` is a one-element PCollection with the cut's score.
    """

    def __init__(self, keep_fraction: float = 0.1):
        super().__init__()
        self.index = threshold_index(keep_fraction)

    def expand(self, pairs):
        quantiles = (pairs | "RankKeys" >> beam.Map(_rank_key)
                     | "Quantiles" >> beam.ApproximateQuantiles.Globally(QUANTILE_RESOLUTION + 1))
        out = pairs | "Cut" >> beam.ParDo(
            _CutFn(), beam.pvalue.AsSingleton(quantiles), self.index
        ).with_outputs(REJECTED, main="kept")
        threshold = quantiles | "Threshold" >> beam.Map(
            lambda q, i=self.index: float(q[i][0]) if q else float("nan"))
        return out.kept, out[REJECTED], threshold
