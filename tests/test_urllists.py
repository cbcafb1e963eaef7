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


# Rows: the data's README (1,000 rows in test_1000.*, 15,833 in the CC3M file). The rejected
# rows of test_1000.parquet, read by eye: six captions that are file names, and two over the
# 500-character limit (548 and 1,362 characters once white space is collapsed).
FILE_NAME_CAPTIONS = ["Scorching June 14 for Alabama.jpg", "7672-eco-cotton-culottes-87-lfs.jpg",
                      "shaker-heritage-barn-wedding-day007.jpg",
                      "photo Ox Cheeks in Red Wine 4_zpszvubq49w.jpg",
                      "MV046-CuteSpiderman-BW-Shirt.jpg", "Kepler Space Telescope spacecraft model 1.png"]


@pytest.mark.parametrize("name,rows,rejected", [
    ("img2dataset/test_1000.parquet", 1000,
     {"placeholder_alt_text": sorted(FILE_NAME_CAPTIONS), "alt_text_too_long": ["1362", "548"]}),
    ("img2dataset/sample_image.parquet", 2, {}),
    ("img2dataset/test_1000.txt", 1000, {"no_alt_text": [""] * 1000}),  # URLs only
    ("cc3m/Validation_GCC-1.1.0-Validation.tsv", 15833, {}),
])
def test_real_url_lists(test_data, name, rows, rejected):
    with open(test_data / "urllists" / name, "rb") as f:
        items = list(read_url_list(f, name))
    kept = [i for i in items if isinstance(i, Candidate)]
    found: dict = {}
    for r in (i for i in items if isinstance(i, Rejection)):
        found.setdefault(r.reason, []).append(r.detail)
    assert {reason: sorted(details) for reason, details in found.items()} == rejected
    assert len(items) == rows and len(kept) == rows - sum(map(len, rejected.values()))
    assert all(c.image_url.startswith("http") and c.alt_text for c in kept)


def test_non_ascii_captions_survive(test_data):
    """Every caption of the 10,000-row file comes through as written (white space collapsed),
    the README's 597 non-ASCII ones included: each is kept intact or rejected with a reason."""
    import pyarrow.parquet as pq

    path = test_data / "urllists" / "img2dataset" / "test_10000.parquet"
    source = pq.read_table(path, columns=["URL", "TEXT"]).to_pylist()
    with open(path, "rb") as f:
        items = list(read_url_list(f, "x.parquet"))
    assert len(items) == len(source) == 10000
    non_ascii = [(row, item) for row, item in zip(source, items)
                 if row["TEXT"] and not row["TEXT"].isascii()]
    assert len(non_ascii) == 597
    for row, item in zip(source, items):
        if isinstance(item, Candidate):
            assert (item.image_url, item.alt_text) == (row["URL"], " ".join(row["TEXT"].split()))
    kept = sum(isinstance(item, Candidate) for _, item in non_ascii)
    assert 500 < kept < 597  # most kept; some are file names or too long, like the rest


def test_read_url_lists_transform_counts_every_row(test_data):
    pattern = str(test_data / "urllists" / "img2dataset" / "test_1000.*")  # .parquet and .txt
    with BeamTestPipeline() as p:
        candidates, rejects, rows = p | beam.Create([pattern]) | ReadUrlLists()
        count = lambda pc, name: pc | name >> beam.combiners.Count.Globally()
        assert_that(count(candidates, "CountKept"), equal_to([992]), label="Kept")
        assert_that(count(rejects, "CountRejected"), equal_to([1008]), label="Rejected")
        assert_that(rows | "Rows" >> beam.CombineGlobally(sum), equal_to([2000]), label="Seen")


@pytest.mark.slow
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
    assert list(stages) == ["urllist", "extract", "fetch", "dedup", "annotate", "safety", "score"]
    assert stages["urllist"] == {"seen": 4, "kept": 3, "rejected": {"no_alt_text": 1},
                                 "balanced": True}
    assert stages["fetch"]["seen"] == 3 and stages["fetch"]["rejected"] == {"http_404": 1}
    assert all(s["balanced"] for s in stages.values())
