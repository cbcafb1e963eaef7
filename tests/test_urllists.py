"""URL lists as input: real img2dataset/LAION parquet and CC3M tsv; fetching over loopback."""
import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.corpus_job import CorpusInputs, run_corpus_job
from pipelines.crawl.transforms import ReadUrlLists
from pipelines.crawl.urllist import read_url_list
from schemas import Candidate, Rejection
from tests.conftest import corpus_config


@pytest.mark.parametrize("name,candidates,reasons", [
    ("img2dataset/test_1000.parquet", 992, {"placeholder_alt_text": 6, "alt_text_too_long": 2}),
    ("img2dataset/sample_image.parquet", 2, {}),
    ("img2dataset/test_1000.txt", 0, {"no_alt_text": 1000}),
    ("cc3m/Validation_GCC-1.1.0-Validation.tsv", 15833, {}),
])
def test_real_url_lists(test_data, name, candidates, reasons):
    with open(test_data / "urllists" / name, "rb") as f:
        items = list(read_url_list(f, name))
    kept = [i for i in items if isinstance(i, Candidate)]
    counted = {}
    for r in (i for i in items if isinstance(i, Rejection)):
        counted[r.reason] = counted.get(r.reason, 0) + 1
    assert (len(kept), counted) == (candidates, reasons)
    assert all(c.image_url.startswith("http") and c.alt_text for c in kept)


def test_non_ascii_captions_survive(test_data):
    with open(test_data / "urllists" / "img2dataset" / "test_10000.parquet", "rb") as f:
        kept = [i for i in read_url_list(f, "x.parquet") if isinstance(i, Candidate)]
    assert sum(not c.alt_text.isascii() for c in kept) > 500


def test_read_url_lists_transform_counts_every_row(test_data):
    pattern = str(test_data / "urllists" / "img2dataset" / "test_1000.*")  # .parquet and .txt
    with BeamTestPipeline() as p:
        candidates, rejects, rows = p | beam.Create([pattern]) | ReadUrlLists()
        count = lambda pc, name: pc | name >> beam.combiners.Count.Globally()
        assert_that(count(candidates, "CountKept"), equal_to([992]), label="Kept")
        assert_that(count(rejects, "CountRejected"), equal_to([1008]), label="Rejected")
        assert_that(rows | "Rows" >> beam.CombineGlobally(sum), equal_to([2000]), label="Seen")


def test_corpus_job_from_a_url_list_fetches_over_loopback(site_url, tmp_path):
    rows = [("a red circle on a blue background", f"{site_url}/img/g00-0.jpg"),
            ("a sign", f"{site_url}/img/s00-0.jpg"),
            ("missing", f"{site_url}/img/nope.jpg"),
            ("", f"{site_url}/img/g00-1.jpg")]
    tsv = tmp_path / "list.tsv"
    tsv.write_text("".join(f"{c}\t{u}\n" for c, u in rows), encoding="utf-8")
    stats = run_corpus_job(CorpusInputs(url_lists=(str(tsv),)), str(tmp_path / "out"),
                           corpus_config())
    stages = stats["stages"]
    assert list(stages) == ["urllist", "extract", "fetch", "dedup", "annotate", "score"]
    assert stages["urllist"] == {"seen": 4, "kept": 3, "rejected": {"no_alt_text": 1},
                                 "balanced": True}
    assert stages["fetch"]["seen"] == 3 and stages["fetch"]["rejected"] == {"http_404": 1}
    assert all(s["balanced"] for s in stages.values())
