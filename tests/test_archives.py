"""Web archives as input: real WARCs from ../shared/data/warc, images taken from the archive."""
import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.crawl.archive import ArchiveError, read_archive
from pipelines.crawl.transforms import ExtractCandidates, ReadArchives
from pipelines.fetch.images import ImageFetchConfig
from pipelines.fetch.transforms import ResolveImages

BOOK_TITLES = {
    "A Light in the Attic", "Tipping the Velvet", "Soumission", "Sharp Objects",
    "Sapiens: A Brief History of Humankind", "The Requiem Red",
    "The Dirty Little Secrets of Getting Your Dream Job",
    "The Coming Woman: A Novel Based on the Life of the Infamous Feminist, Victoria Woodhull",
    "The Boys in the Boat: Nine Americans and Their Epic Quest for Gold at the 1936 Berlin Olympics",
    "The Black Maria", "Starving Hearts (Triangular Trade Trilogy, #1)", "Shakespeare's Sonnets",
    "Set Me Free", "Scott Pilgrim's Precious Little Life (Scott Pilgrim #1)",
    "Rip it Up and Start Again", "Our Band Could Be Your Life: Scenes from the American Indie Underground, 1981-1991",
    "Olio", "Mesaerion: The Best Science Fiction Stories 1800-1849", "Libertarianism for Beginners",
    "It's Only the Himalayas",
}


def test_books_warc_gives_the_20_titles_with_images_from_the_archive(test_data):
    path = str(test_data / "warc" / "books.toscrape.warc")
    with BeamTestPipeline() as p:
        pages, resources, _, rejects, _ = p | beam.Create([path]) | ReadArchives()
        candidates, _, _ = pages | ExtractCandidates()
        images, fetch_rejects = (candidates, resources) | ResolveImages(
            ImageFetchConfig(), fetch_missing=False)  # no network: the archive must suffice
        assert_that(images | beam.Map(lambda r: r.alt_text), equal_to(sorted(BOOK_TITLES)),
                    label="Titles")
        assert_that(images | beam.Map(lambda r: (r.image_format, r.width > 0)),
                    equal_to([("JPEG", True)] * 20), label="Decoded")
        assert_that(fetch_rejects, equal_to([]), label="NoFetchRejects")
        assert_that(rejects, equal_to([]), label="NoArchiveRejects")


@pytest.mark.parametrize("name,pages,damaged", [
    ("warcio-example.warc.gz", 1, False),
    ("warcio-example.arc.gz", 1, False),
    ("warcio-example-trunc.warc", 1, False),
    ("resiliparse-clipped.warc.gz", 1, False),
    ("warcio-example-wrong-chunks.warc.gz", 1, True),
    ("warcio-example-bad-non-chunked.warc.gz", 0, True),
    ("warcio-example-space-in-target-uri.warc.gz", 0, False),
])
def test_edge_archives_never_crash(test_data, name, pages, damaged):
    with open(test_data / "warc" / "edge" / name, "rb") as f:
        items = list(read_archive(f, name))
    errors = [i for i in items if isinstance(i, ArchiveError)]
    html = [i for i in items if not isinstance(i, ArchiveError) and "html" in i.content_type]
    assert (len(html), bool(errors)) == (pages, damaged)


def test_common_crawl_pages_decode_chinese_and_russian(test_data):
    """Declared (windows-1251, gb2312 meaning GBK) and undeclared charsets decode cleanly."""
    from pipelines.crawl.extract import parse_page
    from pipelines.crawl.transforms import decode_html

    with open(test_data / "warc" / "cc-main-2020-34-sample.warc.gz", "rb") as f:
        pages = {r.url: decode_html(r.body, r.headers.get("content-type", ""))
                 for r in read_archive(f, "cc") if not isinstance(r, ArchiveError)}
    assert len(pages) == 16
    assert all("\ufffd" not in html for html in pages.values())
    # The URLs are the archive's record names; nothing is fetched.
    titles = {url: parse_page(html, url).title for url, html in pages.items()}
    assert titles["http://01spb.ru/company/"] == "О компании - Стратегия пожарной безопасности"
    assert "视频" in titles["http://037426.cn/"]  # gb2312 declared in a <meta> tag


def _tag_counts(html: str) -> tuple[int, int, int]:
    """(<img> tags, those whose image is an SVG, <noscript> copies) counted by regex, apart from
    the HTML parser and the extractor the test checks."""
    import re

    tags = re.findall(r"<img\b[^>]*>", html)
    svg = [t for t in tags if re.search(r'(data-lazy-src|(?<!-)src)="[^"]*\.svg"', t)]
    return len(tags), len(svg), len(re.findall(r"<noscript>\s*<img\b", html))


def test_kiwix_redirect_chain_srcset_and_lazy_images(test_data, tmp_path):
    """warc2zim's kiwix.org crawl: a chain of three 301s (http://www → https://www → /en/ →
    https://kiwix.org/en/), 3 pages of lazy-loaded images, each with a <noscript> copy, and
    srcset thumbnails that are in the archive beside the full-size images."""
    from pipelines.corpus_io import read_records
    from pipelines.crawl_job import CorpusInputs, run_crawl_job
    from schemas import ImageRecord, Rejection

    warc = str(test_data / "warc" / "kiwix-with-redirects.warc.gz")
    stats = run_crawl_job(CorpusInputs(archives=(warc,), fetch_missing=False), str(tmp_path))
    stages = stats["stages"]
    # 51 records that count: 48 responses with status 200 and the 3 redirects, each rejected
    # with its status (the chain's end is a record of its own, read as a page).
    assert stages["archive"] == {"seen": 51, "kept": 48, "rejected": {"http_301": 3},
                                 "balanced": True}
    with open(warc, "rb") as f:
        pages = [r.body.decode() for r in read_archive(f, warc)
                 if r.status == 200 and r.content_type == "text/html"]
    tags, svg, copies = map(sum, zip(*map(_tag_counts, pages)))
    # The data's README: 279 <img>, 276 with alt. Every lazy image has a <noscript> copy (138
    # in all); an SVG one is rejected as svg twice (154 = 2 x 77), the other 61 copies are
    # duplicate_on_page, and so is about-us's second lazy tag of an image it shows twice
    # under two alts: 62. The 3 without alt are tracking pixels, one a page.
    assert (tags, svg, copies) == (279, 154, 138)
    assert stages["extract"] == {"seen": 279, "kept": 60, "balanced": True, "rejected": {
        "duplicate_on_page": copies - svg // 2 + 1, "no_alt_text": 3, "svg": svg}}
    # Of the 60 candidates, 4 have their image in the archive: the srcset's largest, never
    # the -294x300 / -285x300 / -300x300 / -150x150 thumbnails archived beside them.
    archived = {r.image_url.rsplit("/", 1)[1]: (r.alt_text, r.width, r.height)
                for r in read_records(str(tmp_path / "archived"), ImageRecord)}
    assert archived == {"Kiwix-youtube-banner-1.png": ("Kiwix youtube banner", 435, 253),
                        "Group-3175-1.png": ("Mission Journal", 480, 490),
                        "about-us-bg.png": ("Kiwix", 360, 379),
                        "test-square.png": ("The Short Story", 512, 512)}
    assert stages["in_archive"] == {"seen": 60, "kept": 4, "rejected": {"not_in_archive": 56},
                                    "balanced": True}
    rejects = read_records(str(tmp_path / "rejects"), Rejection)
    assert sorted(r.url for r in rejects if r.reason == "http_301") == [
        "http://www.kiwix.org/", "https://www.kiwix.org/", "https://www.kiwix.org/en/"]
