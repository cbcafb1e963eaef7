"""The corpus job end to end over real HTTP on a generated site, with the real models."""
import glob
import math

import pyarrow.parquet as pq
import pytest

from pipelines.corpus_io import is_completed, read_json, read_records
from pipelines.corpus_job import CorpusConfig, CorpusInputs, run_corpus_job
from schemas import CorpusPair
from tests.conftest import placeholder_alts

pytestmark = pytest.mark.slow  # the corpus job: every real model


@pytest.fixture(scope="module")
def corpus(direct_corpus):
    return direct_corpus


def test_every_stage_accounts_for_what_it_saw(corpus, small_site):
    _, stats = corpus
    stages = stats["stages"]
    assert list(stages) == ["crawl", "extract", "fetch", "dedup", "annotate", "safety", "score"]
    assert all(s["balanced"] for s in stages.values()), stages
    for upstream, downstream in zip(list(stages)[2:], list(stages)[3:]):
        assert stages[upstream]["kept"] == stages[downstream]["seen"]
    assert stages["fetch"]["seen"] == stages["extract"]["kept"]
    _, counts, _ = small_site
    assert stages["crawl"]["seen"] == counts["pages"]
    assert stages["extract"]["seen"] == counts["img_tags"] - 1  # the robots-disallowed page's


def test_rejection_reasons(corpus, small_site):
    """Every count is fixed by the site (pipelines/sample_site.py): its odd page's broken,
    tiny, thin, missing, inline, opted-out and alt-less images, one page that opts out, one
    disallowed by robots.txt; with 8 gallery pages one exact copy (page 3) and one smaller
    re-encoded copy (page 5); the evaluation set's one image."""
    _, stats = corpus
    rejected = {stage: s["rejected"] for stage, s in stats["stages"].items()}
    assert rejected["crawl"] == {"robots_disallowed": 1}
    assert rejected["extract"] == {"noai": 1, "data_uri": 1, "no_alt_text": 1,
                                   "placeholder_alt_text": placeholder_alts(small_site[0])}
    assert rejected["fetch"] == {"undecodable": 3, "too_small": 1, "extreme_aspect_ratio": 1,
                                 "noai": 1, "http_404": 1}
    assert rejected["dedup"] == {"duplicate_sha256": 1, "near_duplicate": 1,
                                 "eval_near_duplicate": 1}
    assert rejected["annotate"] == {}
    assert rejected["safety"] == {}  # generated shapes and signs: nothing unsafe, no faces


def test_kept_pairs_counted_by_text_source(corpus):
    _, stats = corpus
    # The site's images all have an alt (the alt-less one has no caption either).
    assert stats["text_sources"] == {"alt": stats["stages"]["score"]["kept"]}


def test_text_gate_counted(corpus, small_site):
    _, stats = corpus
    _, counts, _ = small_site
    # The site's gallery photos have no text, its sign pages have: the gate skips OCR on
    # some pairs, not all, and says how many.
    assert 0 < stats["ocr_skipped_by_text_gate"] < stats["stages"]["annotate"]["kept"]
    from pipelines.accounting import format_funnel

    assert (f"OCR not run (no text seen by the text gate): {stats['ocr_skipped_by_text_gate']} of"
            in format_funnel(stats))


def test_global_top_ten_percent_written(corpus):
    out, stats = corpus
    pairs = read_records(out, CorpusPair)
    scored = stats["stages"]["score"]["seen"]
    assert len(pairs) == stats["stages"]["score"]["kept"]
    assert len(pairs) == math.floor(0.1 * scored + 0.5)  # the exact cut: round half up
    cut = stats["score_cut"]
    assert (cut["mode"], cut["thresholds"]) == ("exact", {"all": stats["score_threshold"]})
    assert sum(cut["kept_per_language"].values()) == len(pairs)
    assert cut["kept_per_language"] == {
        lang: sum(p.lang == lang for p in pairs) for lang in cut["seen_per_language"]}
    threshold = stats["score_threshold"]
    rejects = pq.read_table(glob.glob(f"{out}/rejects/*.parquet")).to_pylist()
    below = [float(r["detail"]) for r in rejects if r["reason"] == "below_score_threshold"]
    assert min(p.score for p in pairs) >= threshold >= max(below) - 1e-4
    total_rejected = sum(sum(s["rejected"].values()) for s in stats["stages"].values())
    assert len(rejects) == total_rejected
    assert all(p.lang != "" and p.phash and len(p.sha256) == 64 for p in pairs)


def test_folder_describes_itself_and_rerun_skips(corpus, site_url):
    out, stats = corpus
    assert is_completed(out)
    info = read_json(out, "info.json")
    assert info["record"] == "CorpusPair" and info["config"]["keep_fraction"] == 0.1
    again = run_corpus_job(CorpusInputs(seeds=(f"{site_url}/index.html",)), out,
                           CorpusConfig(scorer_spec="unused"))
    assert again == stats
