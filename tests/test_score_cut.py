"""The top-k% cut: exact counts, independent of bundling; approximate within its bound;
per-language quotas."""
import dataclasses
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.score.cut import RESOLUTION, CutConfig, TopFraction, band, keep_count, kth_key


@dataclasses.dataclass(frozen=True)
class Scored:
    pair_id: str
    score: float
    lang: str = "en"
    image_url: str = ""


def _pairs(n=2000, seed=0, decimals=3):
    rng = random.Random(seed)
    # Scores cluster by chunk, so a per-bundle cut would keep a visibly different set; rounded,
    # so many scores tie and the pair id decides.
    return [Scored(f"{i:06d}", round(rng.random() * 0.5 + (i // 200) * 0.05, decimals))
            for i in range(n)]


def exact_top(pairs, fraction):
    """The reference: sort everything by (score, pair id), take round(fraction · n)."""
    ranked = sorted(pairs, key=lambda p: (p.score, p.pair_id), reverse=True)
    return sorted(p.pair_id for p in ranked[:keep_count(len(pairs), fraction)])


def run_cut(bundles, config, expected_ids, report_check=None, options=None):
    """Run the cut on ``bundles`` (one Create each) and assert, inside the pipeline, that it
    keeps exactly ``expected_ids``, loses nothing, and (``report_check(report)``) reports."""
    with BeamTestPipeline(options=options) as p:
        parts = [p | f"Bundle{i}" >> beam.Create(b) for i, b in enumerate(bundles)]
        pairs = parts | beam.Flatten() if len(parts) > 1 else parts[0]
        kept, rejected, report = pairs | TopFraction(config)
        ids = kept | beam.Map(lambda x: x.pair_id)
        total = (kept, rejected) | "Both" >> beam.Flatten() | beam.combiners.Count.Globally()
        assert_that(ids, equal_to(expected_ids), label="KeptIsTop")
        assert_that(total, equal_to([sum(len(b) for b in bundles)]), label="NothingLost")
        if report_check is not None:
            assert_that(report, report_check, label="Report")


def _report_is(**expected):
    def check(reports):
        (report,) = reports
        for key, value in expected.items():
            assert report[key] == value, (key, report[key], value)
    return check


@pytest.mark.slow  # 100k pairs through Beam twice, ~35 s
def test_exact_cut_keeps_exactly_the_top_tenth_of_100k_whatever_the_bundles():
    pairs = _pairs(100_000)
    expected = exact_top(pairs, 0.1)
    assert len(expected) == 10_000
    kth = sorted(pairs, key=lambda p: (p.score, p.pair_id), reverse=True)[9_999]
    report = _report_is(thresholds={"all": kth.score}, mode="exact")
    run_cut([pairs], CutConfig(0.1), expected, report)
    run_cut([pairs[i:i + 2000] for i in range(0, len(pairs), 2000)], CutConfig(0.1), expected)


def test_a_per_bundle_cut_would_differ():
    """Guards the test above: with this data, cutting each bundle alone gives another set."""
    pairs = _pairs()
    per_bundle = sorted(sum((exact_top(pairs[i:i + 200], 0.1) for i in range(0, 2000, 200)), []))
    assert per_bundle != exact_top(pairs, 0.1)


@pytest.mark.parametrize("n, fraction", [(1, 0.1), (4, 0.1), (15, 0.1), (7, 1.0), (999, 0.37)])
def test_exact_cut_small_and_odd_sizes(n, fraction):
    pairs = _pairs(n, seed=n)
    run_cut([pairs], CutConfig(fraction), exact_top(pairs, fraction))


@pytest.mark.slow  # 100k pairs through Beam, ~20 s
def test_approximate_cut_within_half_a_point():
    pairs = _pairs(100_000, decimals=6)

    def within(ids):
        assert abs(len(ids) / len(pairs) - 0.1) <= 0.005, len(ids)

    with BeamTestPipeline() as p:
        parts = [p | f"B{i}" >> beam.Create(pairs[i:i + 5000]) for i in range(0, 100_000, 5000)]
        kept, _, report = parts | beam.Flatten() | TopFraction(CutConfig(0.1, "approximate"))
        assert_that(kept | beam.Map(lambda x: x.pair_id) | beam.combiners.ToList()
                    | beam.FlatMap(lambda ids: [ids]), lambda got: within(got[0]))
        assert_that(report, _report_is(mode="approximate"), label="Report")


def _skewed(n=5000):
    """80 % English pairs that score higher, 20 % German ones that score lower."""
    rng = random.Random(1)
    return [Scored(f"{i:05d}", rng.gauss(0.6, 0.1) if i % 5 else rng.gauss(0.4, 0.1),
                   "en" if i % 5 else "de") for i in range(n)]


def test_per_language_quotas_move_the_kept_mix_towards_each_language_share():
    pairs = _skewed()
    german, english = ([p for p in pairs if p.lang == lang] for lang in ("de", "en"))
    global_top = exact_top(pairs, 0.1)
    # The global cut nearly wipes German out (the direction the quotas must undo).
    assert sum(i in {p.pair_id for p in german} for i in global_top) / len(global_top) < 0.03
    per_language = sorted(exact_top(german, 0.1) + exact_top(english, 0.1))  # 20 % German
    run_cut([pairs], CutConfig(0.1, per_language=True), per_language,
            lambda r: _check_keys(r, "thresholds", {"de", "en"}))
    floor = sorted(set(global_top) | set(exact_top(german, 0.05)))
    run_cut([pairs], CutConfig(0.1, min_language_share=0.05), floor,
            lambda r: _check_keys(r, "language_thresholds", {"de", "en"}))


def _check_keys(reports, key, groups):
    assert set(reports[0][key]) == groups


def test_band_and_kth_key():
    quantiles = [(i, f"{i}") for i in range(RESOLUTION + 1)]
    assert band(quantiles, 100, 0.001) is None  # keeps round(0.1) = 0
    # K = 50 of 100: the estimate is step 5,000, the band 3 steps either side.
    assert band(quantiles, 100, 0.5) == ((4997, "4997"), (5003, "5003"))
    assert band(quantiles, 7, 1.0) == ((0, "0"), (3, "3"))  # clipped at the bottom
    keys = [(0.5, "a"), (0.7, "b"), (0.6, "c")]
    assert kth_key(keys, above=3, n=100, fraction=0.05, group="all") == (0.6, "c")
    with pytest.raises(RuntimeError, match="does not hold rank 9 of 100"):
        kth_key(keys, above=5, n=100, fraction=0.09, group="all")


@pytest.mark.parametrize("kwargs", [dict(keep_fraction=0.0), dict(keep_fraction=1.5),
                                    dict(mode="median"), dict(min_language_share=2.0),
                                    dict(per_language=True, min_language_share=0.1)])
def test_bad_settings_rejected(kwargs):
    with pytest.raises(ValueError):
        CutConfig(**kwargs)
