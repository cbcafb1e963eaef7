"""``openwebli crawl`` and ``openwebli fetch --candidates``: crawl and fetch as separate jobs."""
import pytest

from pipelines.cli import main
from pipelines.corpus_io import read_json, read_records
from pipelines.crawl.transforms import CrawlConfig
from pipelines.crawl_job import CorpusInputs, CrawlJobConfig, run_crawl_job
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch_job import run_fetch_job
from pipelines.http import FetchConfig
from schemas import Candidate, ImageRecord, Rejection
from tests.test_archives import BOOK_TITLES
from tests.conftest import placeholder_alts

LOOPBACK = ImageFetchConfig(fetch=FetchConfig(allowed_networks=("127.0.0.1/32",)))


def _balanced(stats):
    return all(stage["balanced"] for stage in stats["stages"].values())


def test_books_warc_crawl_then_fetch_takes_the_20_images_from_the_archive(test_data, tmp_path,
                                                                         capsys):
    warc, crawled, fetched = test_data / "warc" / "books.toscrape.warc", tmp_path / "c", tmp_path / "f"
    in_memory = "--direct_running_mode=in_memory"  # a Beam option: one process is enough here
    assert main(["crawl", "--input", str(warc), "--output", str(crawled), "--no-fetch",
                 in_memory]) == 0
    assert "20 images taken from the archives (archived/), 0 candidates to fetch" in (
        capsys.readouterr().out)
    archived = read_records(str(crawled / "archived"), ImageRecord)
    assert sorted(r.alt_text for r in archived) == sorted(BOOK_TITLES)
    assert read_records(str(crawled), Candidate) == []
    assert _balanced(read_json(str(crawled), "stats.json"))

    assert main(["fetch", "--candidates", str(crawled), "--output", str(fetched), in_memory]) == 0
    images = read_records(str(fetched), ImageRecord)
    assert sorted(i.sha256 for i in images) == sorted(r.sha256 for r in archived)
    stages = read_json(str(fetched), "stats.json")["stages"]
    assert stages["archived"] == {"seen": 20, "kept": 20, "rejected": {}, "balanced": True}
    assert stages["fetch"]["seen"] == 0


@pytest.fixture(scope="module")
def site_crawl(site_url, tmp_path_factory):
    """The crawl job over the loopback sample site: (folder, stats)."""
    out = str(tmp_path_factory.mktemp("crawl"))
    config = CrawlJobConfig(crawl=CrawlConfig(fetch=LOOPBACK.fetch), images=LOOPBACK)
    return out, run_crawl_job(CorpusInputs(seeds=(f"{site_url}/index.html",)), out, config)


def test_site_crawl_leaves_the_candidates_to_fetch(site_crawl, small_site):
    out, stats = site_crawl
    stages = stats["stages"]
    assert list(stages) == ["crawl", "extract", "in_archive"] and _balanced(stats)
    assert stages["crawl"]["seen"] == small_site[1]["pages"]
    candidates = read_records(out, Candidate)
    # The site's <img> tags less the robots-disallowed page's one and the 3 + placeholders
    # that extraction rejects (tests/test_corpus_job.py::test_rejection_reasons says why).
    expected = small_site[1]["img_tags"] - 1 - 3 - placeholder_alts(small_site[0])
    assert len(candidates) == stats["candidates_to_fetch"] == stages["extract"]["kept"] == expected
    assert read_records(f"{out}/archived", ImageRecord) == []
    assert {r.stage for r in read_records(f"{out}/rejects", Rejection)} == {"crawl", "extract"}


def test_fetch_candidates_gives_the_images(site_crawl, tmp_path):
    crawled, crawl_stats = site_crawl
    out = str(tmp_path / "images")
    stats = run_fetch_job((), out, LOOPBACK, candidate_folders=(crawled,))
    fetch = stats["stages"]["fetch"]
    assert _balanced(stats) and fetch["seen"] == crawl_stats["candidates_to_fetch"]
    images = read_records(out, ImageRecord)
    # The fetch stage's verdicts on the site's odd images, as in the corpus job.
    assert fetch["rejected"] == {"undecodable": 3, "too_small": 1, "extreme_aspect_ratio": 1,
                                 "noai": 1, "http_404": 1}
    assert len(images) == fetch["kept"] == crawl_stats["candidates_to_fetch"] - 7
    candidates = {c.pair_id for c in read_records(crawled, Candidate)}
    assert len({i.pair_id for i in images}) == len(images) and {i.pair_id for i in images} <= candidates


@pytest.mark.parametrize("finished,message", [
    (None, "does not exist"), (False, "is not finished (no COMPLETED marker)")])
def test_fetch_refuses_a_missing_or_unfinished_candidates_folder(tmp_path, capsys, finished,
                                                                 message):
    folder = tmp_path / "crawl"
    if finished is False:
        folder.mkdir()
        (folder / "part-00000-of-00001.parquet").write_bytes(b"")
    assert main(["fetch", "--candidates", str(folder), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"candidates folder {folder} {message}" in err and "Traceback" not in err


def test_no_fetch_without_archives_is_a_clear_error():
    with pytest.raises(ValueError, match="--no-fetch"):
        CorpusInputs(seeds=("http://127.0.0.1:1/",), fetch_missing=False)


def _html(*links: str) -> tuple:
    body = "".join(f'<a href="{link}">next</a>' for link in links)
    page = f"<html><body>{body}</body></html>".encode()
    return 200, {"Content-Type": "text/html; charset=utf-8"}, page


CRAWLS = [  # (max_depth, same_host_only, the pages (host, path, depth) it must fetch)
    (0, True, [("a", "/0.html", 0)]),
    (2, True, [("a", "/0.html", 0), ("a", "/1.html", 1), ("a", "/2.html", 2)]),
    (2, False, [("a", "/0.html", 0), ("a", "/1.html", 1), ("b", "/x.html", 1),
                ("a", "/2.html", 2), ("b", "/y.html", 2)]),
]


def test_crawl_follows_links_to_max_depth_on_the_same_host():
    """A chain /0 → /1 → /2 → /3 on host a, whose /0 also links to host b (another port is
    another host); /1 links back to /0, which is not fetched twice. Three crawls, one pipeline."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from pipelines.crawl.transforms import CrawlPages
    from tests.loopback import serve

    routes_a, routes_b = {}, {"/y.html": _html()}
    with serve(routes_a) as a, serve(routes_b) as b:
        hosts = {a: "a", b: "b"}
        routes_a.update({"/0.html": _html("/1.html", f"{b}/x.html"),
                         "/1.html": _html("/2.html", "/0.html"),
                         "/2.html": _html("/3.html"), "/3.html": _html()})
        routes_b["/x.html"] = _html("/y.html")
        where = lambda url: (hosts[url[:len(a)]], url[len(a):])
        with BeamTestPipeline() as p:
            for i, (max_depth, same_host_only, expected) in enumerate(CRAWLS):
                config = CrawlConfig(max_depth=max_depth, same_host_only=same_host_only,
                                     fetch=LOOPBACK.fetch)
                pages, rejects, urls = (p | f"Seed{i}" >> beam.Create([f"{a}/0.html"])
                                        | f"Crawl{i}" >> CrawlPages(config))
                assert_that(pages | f"Pages{i}" >> beam.Map(lambda pg: (*where(pg.url), pg.depth)),
                            equal_to(expected), label=f"PagesOf{i}")
                assert_that(urls | f"Urls{i}" >> beam.Map(where),
                            equal_to([(h, path) for h, path, _ in expected]), label=f"Fetched{i}")
                assert_that(rejects, equal_to([]), label=f"NoRejects{i}")
