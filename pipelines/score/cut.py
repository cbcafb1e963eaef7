"""The top-k% cut over the whole corpus (or within each language): exact or approximate.

Pairs are ranked by ``(score, pair_id)``: a total order (pair ids are unique), so equal scores
are broken by the larger pair id, and the cut does not depend on bundling or on the runner.

- **exact** (the default) keeps exactly ``K = round(keep_fraction · N)`` pairs (half up) of a
  group of N, in two passes that stay exact at any scale: Beam's ApproximateQuantiles
  (``RESOLUTION`` steps, rank error ≤ one step) gives a narrow band of rank keys that must hold
  the K-th largest; the pairs above the band are counted, and only the band's keys (about
  ``2 · BAND_STEPS / RESOLUTION`` of the group: 0.06 %, some 600k keys for a billion pairs) are
  gathered on one worker and sorted to find the K-th key exactly. A band that misses it (it
  cannot, within the combiner's bound) stops the job with an error, never a wrong count.
- **approximate** keeps the pairs above the ``1 − keep_fraction`` quantile of the same
  ApproximateQuantiles: exact while the group fits the combiner's buffers, within one step
  (0.01 % of N) beyond; one pass less.

Groups are the whole corpus (``"all"``), or the alt text's language with ``per_language``.
``min_language_share`` keeps the global cut and adds, in every language, its own top share:
a language the scorer ranks low is not wiped out.
"""
from __future__ import annotations

import dataclasses
import math

import apache_beam as beam

from pipelines.beam_util import REJECTED
from schemas import Rejection

RESOLUTION = 10_000  # quantile steps
BAND_STEPS = 3  # the exact cut's band reaches this many steps beyond the estimate on each side
CUT_MODES = ("exact", "approximate")
ALL = "all"


@dataclasses.dataclass(frozen=True)
class CutConfig:
    keep_fraction: float = 0.1
    mode: str = "exact"  # exact | approximate
    per_language: bool = False  # the top keep_fraction of each language, not of the whole
    min_language_share: float = 0.0  # with the global cut: each language's own top share too

    def __post_init__(self):
        if not 0.0 < self.keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must be in (0, 1], got {self.keep_fraction}")
        if self.mode not in CUT_MODES:
            raise ValueError(f"cut {self.mode!r}: one of {', '.join(CUT_MODES)}")
        if not 0.0 <= self.min_language_share <= 1.0:
            raise ValueError(f"min_language_share must be in [0, 1], got "
                             f"{self.min_language_share}")
        if self.per_language and self.min_language_share:
            raise ValueError("per_language already cuts each language: give one of "
                             "per_language and min_language_share")


def rank_key(pair) -> tuple[float, str]:
    return (pair.score, pair.pair_id)


def keep_count(n: int, fraction: float) -> int:
    """K of N: round half up (0.1 of 15 keeps 2)."""
    return math.floor(n * fraction + 0.5)


def band(quantiles: list, n: int, fraction: float) -> tuple[tuple, tuple] | None:
    """The (low, high) rank keys around the K-th largest key, from a group's quantiles; None
    when the group keeps nothing."""
    k = keep_count(n, fraction)
    if k == 0:
        return None
    estimate = (1.0 - k / n) * RESOLUTION
    low = max(0, math.floor(estimate) - BAND_STEPS)
    high = min(RESOLUTION, math.ceil(estimate) + BAND_STEPS)
    return tuple(quantiles[low]), tuple(quantiles[high])


def kth_key(keys: list, above: int, n: int, fraction: float, group: str):
    """The K-th largest rank key of a group, from the keys in its band and the count above."""
    k = keep_count(n, fraction)
    rank = k - above  # its rank within the band, from the top
    if not 1 <= rank <= len(keys):
        raise RuntimeError(f"exact cut of {group!r}: the band of {len(keys)} keys above "
                           f"{above} does not hold rank {k} of {n}; raise BAND_STEPS")
    return sorted(keys, reverse=True)[rank - 1]


def _group_band(joined, fraction: float):
    """(group, ([quantiles], [count])) → (group, band), nothing for a group that keeps none."""
    group, (quantiles, counts) = joined
    bounds = band(quantiles[0], counts[0], fraction)
    if bounds is not None:
        yield group, bounds


def _groups(pairs, label: str, group_of):
    return pairs | f"{label}Keys" >> beam.Map(lambda p: (group_of(p), rank_key(p)))


def _thresholds(keyed, label: str, fraction: float, mode: str):
    """A one-element PCollection {group: (rank key, inclusive)}: pairs at or above (inclusive)
    or above the key are kept; groups absent keep nothing."""
    counts = keyed | f"{label}Count" >> beam.combiners.Count.PerKey()
    quantiles = keyed | f"{label}Quantiles" >> beam.ApproximateQuantiles.PerKey(RESOLUTION + 1)
    if mode == "approximate":
        index = round((1.0 - fraction) * RESOLUTION)
        return (quantiles
                | f"{label}Approx" >> beam.Map(lambda kq: (kq[0], (tuple(kq[1][index]), False)))
                | f"{label}ApproxDict" >> beam.combiners.ToDict())
    bands = ((quantiles, counts) | f"{label}Join" >> beam.CoGroupByKey()
             | f"{label}Bands" >> beam.FlatMap(_group_band, fraction))
    side = beam.pvalue.AsDict(bands)
    above = (keyed | f"{label}Above" >> beam.Filter(
        lambda kv, b: kv[0] in b and kv[1] > b[kv[0]][1], side)
             | f"{label}AboveKeys" >> beam.Map(lambda kv: kv[0])
             | f"{label}CountAbove" >> beam.combiners.Count.PerElement())
    in_band = (keyed | f"{label}InBand" >> beam.Filter(
        lambda kv, b: kv[0] in b and b[kv[0]][0] <= kv[1] <= b[kv[0]][1], side)
        | f"{label}GroupBand" >> beam.GroupByKey())
    return (in_band | f"{label}Kth" >> beam.Map(
        lambda g, above, counts: (g[0], (kth_key(list(g[1]), above.get(g[0], 0), counts[g[0]],
                                                 fraction, g[0]), True)),
        beam.pvalue.AsDict(above), beam.pvalue.AsDict(counts))
        | f"{label}KthDict" >> beam.combiners.ToDict())


def _passes(key, threshold) -> bool:
    if threshold is None:
        return False
    value, inclusive = threshold
    return key >= tuple(value) if inclusive else key > tuple(value)


class _CutFn(beam.DoFn):
    def process(self, pair, main, languages, group_of):
        key = rank_key(pair)
        if _passes(key, main.get(group_of(pair))) or (
                languages is not None and _passes(key, languages.get(pair.lang))):
            yield pair
        else:
            yield beam.pvalue.TaggedOutput(REJECTED, Rejection.of(
                pair, "score", "below_score_threshold", f"{pair.score:.4f}"))


def _language(pair) -> str:
    return pair.lang


def _everything(_pair) -> str:
    return ALL


class TopFraction(beam.PTransform):
    """Scored pairs → (kept, rejected, a one-element PCollection of the cut's report:
    {"mode", "thresholds": {group: score}, "language_thresholds"?}).

    See the module docstring for the modes and groups."""

    def __init__(self, config: CutConfig = CutConfig()):
        super().__init__()
        self.config = config

    def expand(self, pairs):
        c = self.config
        group_of = _language if c.per_language else _everything
        main = _thresholds(_groups(pairs, "Main", group_of), "Main", c.keep_fraction, c.mode)
        languages = None
        if c.min_language_share:
            languages = _thresholds(_groups(pairs, "Lang", _language), "Lang",
                                    c.min_language_share, c.mode)
        lang_side = beam.pvalue.AsSingleton(languages) if languages is not None else None
        out = pairs | "Cut" >> beam.ParDo(
            _CutFn(), beam.pvalue.AsSingleton(main), lang_side, group_of
        ).with_outputs(REJECTED, main="kept")
        report = main | "Report" >> beam.Map(
            lambda m, langs: _report(c, m, langs),
            beam.pvalue.AsSingleton(languages) if languages is not None else None)
        return out.kept, out[REJECTED], report


def _scores(thresholds: dict) -> dict:
    return {g: float(key[0]) for g, (key, _) in sorted(thresholds.items())}


def _report(config: CutConfig, main: dict, languages: dict | None) -> dict:
    out = {"mode": config.mode, "keep_fraction": config.keep_fraction,
           "per_language": config.per_language, "thresholds": _scores(main)}
    if languages is not None:
        out["min_language_share"] = config.min_language_share
        out["language_thresholds"] = _scores(languages)
    return out
