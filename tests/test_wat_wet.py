"""Common Crawl WAT (page metadata with image links) and WET (page text) as inputs."""
import io
import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to
from warcio.warcwriter import WARCWriter

from pipelines.crawl.archive import ArchiveError, WatPage, read_archive
from pipelines.crawl.transforms import ExtractCandidates, ReadArchives
from schemas import PageText

PAGE = "https://shop.example/products/index.html"


def _wat_metadata(status="200", robots="", links=()):
    """A WAT metadata record's JSON, in Common Crawl's layout, for a response to PAGE."""
    metas = [{"name": "robots", "content": robots}] if robots else []
    return {"Envelope": {
        "WARC-Header-Metadata": {"WARC-Type": "response", "WARC-Target-URI": PAGE},
        "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Response-Message": {"Status": status, "Version": "HTTP/1.1"},
            "Headers": {"Content-Type": "text/html; charset=UTF-8"},
            "HTML-Metadata": {"Head": {"Title": "Red things", "Base": "/static/", "Metas": metas},
                              "Links": list(links)}}}}}


LINKS = [
    {"path": "IMG@/src", "url": "img/red-kettle.jpg", "alt": "A red enamel kettle on a stove"},
    {"path": "IMG@/src", "url": "/logo.svg", "alt": "Shop logo with a kettle"},
    {"path": "IMG@/src", "url": "data:image/gif;base64,R0lGOD", "alt": "spacer"},
    {"path": "IMG@/src", "url": "https://cdn.example/x.jpg", "title": "Red wool scarf, folded"},
    {"path": "IMG@/src", "url": "img/blank.jpg"},
    {"path": "A@/href", "url": "/about", "text": "About"},
]


def _wat_file(tmp_path, *metadata) -> str:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    request = {"Envelope": {"WARC-Header-Metadata": {"WARC-Type": "request"}}}
    for payload in (request, *metadata):
        writer.write_record(writer.create_warc_record(
            PAGE, "metadata", payload=io.BytesIO(json.dumps(payload).encode()),
            warc_content_type="application/json"))
    path = tmp_path / "sample.warc.wat.gz"
    path.write_bytes(out.getvalue())
    return str(path)


def test_wat_links_become_candidates(tmp_path):
    path = _wat_file(tmp_path, _wat_metadata(links=LINKS), _wat_metadata(status="404"))
    with BeamTestPipeline() as p:
        pages, _, _, rejects, seen = p | beam.Create([path]) | ReadArchives()
        candidates, extract_rejects, images_seen = pages | ExtractCandidates()
        assert_that(candidates | beam.Map(lambda c: (c.image_url, c.alt_text, c.page_title)),
                    equal_to([
                        ("https://shop.example/static/img/red-kettle.jpg",
                         "A red enamel kettle on a stove", "Red things"),
                        ("https://cdn.example/x.jpg", "Red wool scarf, folded", "Red things")]),
                    label="Candidates")
        assert_that(extract_rejects | beam.Map(lambda r: r.reason),
                    equal_to(["svg", "data_uri", "no_alt_text"]), label="ExtractRejects")
        assert_that(images_seen | "SumImages" >> beam.CombineGlobally(sum), equal_to([5]),
                    label="ImagesSeen")
        assert_that(rejects | beam.Map(lambda r: r.reason), equal_to(["http_404"]), label="Rej")
        assert_that(seen | "SumSeen" >> beam.CombineGlobally(sum), equal_to([2]),
                    label="Seen")  # the request record is not counted


def test_wat_page_that_opts_out_is_rejected_whole(tmp_path):
    path = _wat_file(tmp_path, _wat_metadata(robots="noimageai", links=LINKS[:1]))
    with BeamTestPipeline() as p:
        pages, _, _, _, _ = p | beam.Create([path]) | ReadArchives()
        candidates, extract_rejects, _ = pages | ExtractCandidates()
        assert_that(candidates, equal_to([]), label="None")
        assert_that(extract_rejects | beam.Map(lambda r: r.reason), equal_to(["noai"]))


def test_real_whirlwind_wet_and_wat(test_data):
    with open(test_data / "warc" / "whirlwind.warc.wet.gz", "rb") as f:
        texts = list(read_archive(f, "wet"))
    assert len(texts) == 1 and isinstance(texts[0], PageText)
    assert texts[0].url == "https://an.wikipedia.org/wiki/Escopete"
    assert "Escopete" in texts[0].text and "enciclopedia libre" in texts[0].text
    with open(test_data / "warc" / "whirlwind.warc.wat.gz", "rb") as f:
        items = list(read_archive(f, "wat"))  # its one metadata record describes a request
    assert not [i for i in items if isinstance(i, (WatPage, ArchiveError))]


def test_wet_texts_are_written_beside_the_corpus(test_data, tmp_path):
    """A WET file's page text lands in the job folder's ``texts/``, counted as passed on."""
    from pipelines.corpus_io import read_records
    from pipelines.crawl_job import CorpusInputs, run_crawl_job

    from warcio.archiveiterator import ArchiveIterator

    wet = test_data / "warc" / "whirlwind.warc.wet.gz"
    with open(wet, "rb") as f:  # the record as warcio reads it, apart from the project's reader
        expected = [PageText(url=r.rec_headers.get_header("WARC-Target-URI"),
                             text=r.content_stream().read().decode("utf-8"))
                    for r in ArchiveIterator(f) if r.rec_type == "conversion"]
    stats = run_crawl_job(CorpusInputs(archives=(str(wet),), fetch_missing=False), str(tmp_path))
    texts = read_records(str(tmp_path / "texts"), PageText)
    assert texts == expected and texts[0].url == "https://an.wikipedia.org/wiki/Escopete"
    assert stats["stages"]["archive"] == {"seen": 1, "kept": 1, "rejected": {}, "balanced": True}
