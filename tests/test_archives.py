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
