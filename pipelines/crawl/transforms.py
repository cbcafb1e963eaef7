"""Beam transforms of the crawl stage: seed URLs → pages (breadth-first, to a depth) → candidates."""
from __future__ import annotations

import dataclasses
import re
import urllib.parse

import apache_beam as beam

from pipelines.beam_util import REJECTED, par_do_with_rejects, routed
from pipelines.crawl.archive import ArchiveError, WatPage, read_archive
from pipelines.crawl.extract import candidates_from_page, parse, parse_page
from pipelines.crawl.robots import RobotsCache
from pipelines.crawl.urllist import read_url_list
from pipelines.http import FetchConfig, Fetcher, FetchError
from quality_filters.robots import tdm_reserved
from schemas import Page, PageText, Rejection

# WHATWG encoding labels decode with a superset codec, as browsers do.
_CHARSET_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
                      "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
                      "ascii": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class CrawlConfig:
    max_depth: int = 3  # seeds are depth 0
    same_host_only: bool = True
    fetch: FetchConfig = FetchConfig()


def decode_html(body: bytes, content_type: str) -> str:
    """Bytes → text using the header charset, else <meta charset>, else UTF-8 (with replacement)."""
    charset = ""
    if "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    if not charset:
        match = _META_CHARSET.search(body[:4096])
        charset = match.group(1).decode("ascii") if match else "utf-8"
    charset = _CHARSET_SUPERSETS.get(charset.lower(), charset)
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


class FetchPageFn(beam.DoFn):
    """(url, depth) → Page, or a Rejection (stage "crawl") tagged REJECTED."""

    def __init__(self, config: CrawlConfig):
        self.config = config

    def setup(self):
        self.fetcher = Fetcher(self.config.fetch)
        self.robots = RobotsCache(self.fetcher)

    def process(self, item):
        url, depth = item
        reason, detail, page = self._fetch(url, depth)
        if page is not None:
            yield page
        else:
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(stage="crawl", reason=reason, record_id=url, url=url,
                                    detail=detail))

    def _fetch(self, url: str, depth: int):
        entry = self.fetcher.opted_out(url)
        if entry:  # before robots.txt: nothing at all is requested from a listed site
            return "opted_out", entry, None
        if not self.robots.allowed(url):
            return "robots_disallowed", "", None
        try:
            resp = self.fetcher.get(url)
        except FetchError as e:
            return e.reason, e.detail, None
        if resp.status != 200:
            return f"http_{resp.status}", "", None
        if tdm_reserved(resp.headers):
            return "tdm_reservation", resp.headers.get("tdm-reservation", ""), None
        ctype = resp.headers.get("content-type", "")
        if "html" not in ctype.lower():
            return "not_html", ctype, None
        html = decode_html(resp.body, ctype)
        return "", "", Page(url=resp.url, depth=depth, html=html,
                            x_robots_tag=resp.headers.get("x-robots-tag", ""))


def _page_links(page: Page, config: CrawlConfig):
    host = urllib.parse.urlsplit(page.url).netloc
    for link in set(parse_page(page.html, page.url).links):
        if not config.same_host_only or urllib.parse.urlsplit(link).netloc == host:
            yield link


def _unseen(grouped):
    url, sides = grouped
    if sides["new"] and not sides["seen"]:
        yield url


class CrawlPages(beam.PTransform):
    """Seed URLs → every page reachable within the site up to ``max_depth`` links away.

    The breadth-first crawl is unrolled into ``max_depth + 1`` levels of the Beam graph; each
    level fetches the URLs that no earlier level saw. Returns (pages, rejections, urls fetched).
    """

    def __init__(self, config: CrawlConfig):
        super().__init__()
        self.config = config

    def expand(self, seeds):
        frontier = seeds
        seen = frontier
        pages_levels, reject_levels, url_levels = [], [], []
        for depth in range(self.config.max_depth + 1):
            with_depth = frontier | f"Fetch{depth}" >> beam.Map(lambda u, d=depth: (u, d))
            pages, rejects = par_do_with_rejects(
                with_depth, f"FetchPages{depth}", FetchPageFn(self.config))
            url_levels.append(frontier)
            pages_levels.append(pages)
            reject_levels.append(rejects)
            if depth == self.config.max_depth:
                break
            links = pages | f"Links{depth}" >> beam.FlatMap(_page_links, self.config)
            frontier = self._unseen(links, seen, depth)
            seen = (seen, frontier) | f"Seen{depth}" >> beam.Flatten()
        pages = pages_levels | "AllPages" >> beam.Flatten()
        rejects = reject_levels | "AllPageRejects" >> beam.Flatten()
        urls = url_levels | "AllUrls" >> beam.Flatten()
        return pages, rejects, urls

    def _unseen(self, links, seen, depth):
        new = links | f"KeyNew{depth}" >> beam.Map(lambda u: (u, 1))
        old = seen | f"KeySeen{depth}" >> beam.Map(lambda u: (u, 1))
        return ({"new": new, "seen": old} | f"Join{depth}" >> beam.CoGroupByKey()
                | f"Unseen{depth}" >> beam.FlatMap(_unseen))


IMAGES_SEEN = "images_seen"


class ExtractFn(beam.DoFn):
    """Page → Candidate for each usable <img>, Rejection (stage "extract") for the others, and
    the number of <img> tags on the page, tagged IMAGES_SEEN (for the stage's accounting)."""

    def process(self, page: Page):
        parsed = parse(page)
        yield beam.pvalue.TaggedOutput(IMAGES_SEEN, len(parsed.images))
        for item in candidates_from_page(page, parsed):
            yield routed(item)


class ExtractCandidates(beam.PTransform):
    """Pages → (candidates, rejections, number of <img> tags per page)."""

    def expand(self, pages):
        out = pages | "Extract" >> beam.ParDo(ExtractFn()).with_outputs(
            REJECTED, IMAGES_SEEN, main="kept")
        return out.kept, out[REJECTED], out[IMAGES_SEEN]


RESOURCES = "resources"  # non-HTML responses of an archive, keyed by URL
RESPONSES_SEEN = "responses_seen"
TEXTS = "texts"  # WET page texts


class ReadArchiveFn(beam.DoFn):
    """An archive path → its HTML pages (depth 0), its other responses tagged RESOURCES as
    (url, ArchivedResponse), Rejections (stage "archive") and a count per response read."""

    def process(self, path: str):
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path, compression_type="uncompressed") as stream:
            for item in read_archive(stream, path):
                yield beam.pvalue.TaggedOutput(RESPONSES_SEEN, 1)
                yield from _route_archived(item)


def _route_archived(item):
    if isinstance(item, ArchiveError):
        yield beam.pvalue.TaggedOutput(REJECTED, Rejection(
            stage="archive", reason="archive_damaged", record_id=item.path, url=item.path,
            detail=f"after {item.records_read} records: {item.detail}"))
    elif isinstance(item, PageText):
        yield (beam.pvalue.TaggedOutput(TEXTS, item) if item.text.strip() else
               beam.pvalue.TaggedOutput(REJECTED, Rejection(
                   stage="archive", reason="empty_text", record_id=item.url, url=item.url)))
    elif item.status != 200:
        yield beam.pvalue.TaggedOutput(REJECTED, Rejection(
            stage="archive", reason=f"http_{item.status}", record_id=item.url, url=item.url))
    elif isinstance(item, WatPage):
        yield Page(url=item.url, depth=0, html=item.metadata, x_robots_tag=item.x_robots_tag,
                   kind="wat")
    elif "html" in item.content_type:
        yield Page(url=item.url, depth=0, html=decode_html(item.body, item.headers.get(
            "content-type", "")), x_robots_tag=item.headers.get("x-robots-tag", ""))
    else:
        yield beam.pvalue.TaggedOutput(RESOURCES, (item.url, item))


class ReadArchives(beam.PTransform):
    """File patterns (local, gs://, s3:// through Beam's FileSystems) → (pages, resources,
    page texts, rejections, records seen). Each file is read whole by one worker. WAT records
    become pages of kind "wat"; WET records become PageTexts."""

    def expand(self, patterns):
        out = (patterns | "MatchArchives" >> beam.FlatMap(match_files)
               | "SpreadArchives" >> beam.Reshuffle()
               | "ReadArchive" >> beam.ParDo(ReadArchiveFn()).with_outputs(
                   RESOURCES, TEXTS, REJECTED, RESPONSES_SEEN, main="pages"))
        return out.pages, out[RESOURCES], out[TEXTS], out[REJECTED], out[RESPONSES_SEEN]


ROWS_SEEN = "rows_seen"


class ReadUrlListFn(beam.DoFn):
    """A URL-list path → Candidates, Rejections (stage "urllist") and a count per row."""

    def process(self, path: str):
        import io

        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path, compression_type="uncompressed") as stream:
            data = io.BytesIO(stream.read())  # parquet needs a seekable file
        for item in read_url_list(data, path):
            yield beam.pvalue.TaggedOutput(ROWS_SEEN, 1)
            yield routed(item)


class ReadUrlLists(beam.PTransform):
    """File patterns of URL lists → (candidates, rejections, rows seen)."""

    def expand(self, patterns):
        out = (patterns | "MatchLists" >> beam.FlatMap(match_files)
               | "SpreadLists" >> beam.Reshuffle()
               | "ReadList" >> beam.ParDo(ReadUrlListFn()).with_outputs(
                   REJECTED, ROWS_SEEN, main="candidates"))
        return out.candidates, out[REJECTED], out[ROWS_SEEN]


def match_files(pattern: str) -> list[str]:
    """A path or glob (any Beam filesystem) → the sorted paths it matches; none is an error, and
    so is a local folder (its files are not guessed at)."""
    import os

    from apache_beam.io.filesystems import FileSystems

    if "://" not in pattern and os.path.isdir(pattern):
        raise ValueError(f"{pattern} is a folder; give its files or a glob such as "
                         f"{os.path.join(pattern, '*')}")
    matches = FileSystems.match([pattern])[0].metadata_list
    if not matches:
        raise FileNotFoundError(f"no file matches {pattern!r}")
    return sorted(m.path for m in matches)
