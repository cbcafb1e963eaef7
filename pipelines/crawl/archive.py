"""Web archives → HTTP responses, WAT page metadata and WET page text.

WARC (gzipped per record or whole file), legacy ARC, and Common Crawl's WAT and WET files.
Reading is warcio's ``ArchiveIterator`` (``arc2warc`` turns ARC records into WARC ones). What
counts: ``response`` records (→ ArchivedResponse), WAT ``metadata`` records of HTML responses
(→ WatPage: Common Crawl's own parse of the page, with its image links and alt texts) and WET
``conversion`` records (→ PageText). Requests, warcinfo and the rest are skipped. A damaged
archive ends with an ``ArchiveError`` after every record that could be read, so what was
readable is kept and the damage is counted.
"""
from __future__ import annotations

import dataclasses
import json
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator

from schemas import PageText


@dataclasses.dataclass(frozen=True)
class ArchivedResponse:
    url: str
    status: int
    headers: dict[str, str]  # lower-cased HTTP header names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclasses.dataclass(frozen=True)
class WatPage:
    """A WAT record describing an HTML response: its status, X-Robots-Tag and the
    ``Payload-Metadata.HTTP-Response-Metadata`` object (JSON text) with ``HTML-Metadata``."""

    url: str
    status: int
    x_robots_tag: str
    metadata: str


@dataclasses.dataclass(frozen=True)
class ArchiveError:
    path: str
    records_read: int
    detail: str


def _response(record) -> ArchivedResponse:
    url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip()
    http = record.http_headers
    status = int(http.get_statuscode() or 0) if http else 0
    headers = {k.lower(): v for k, v in http.headers} if http else {}
    return ArchivedResponse(url=url, status=status, headers=headers,
                            body=record.content_stream().read())


def _wat_page(record) -> WatPage | None:
    """The WatPage of a WAT metadata record, or None when it does not describe an HTML response."""
    envelope = json.loads(record.content_stream().read()).get("Envelope", {})
    if envelope.get("WARC-Header-Metadata", {}).get("WARC-Type") != "response":
        return None
    response = envelope.get("Payload-Metadata", {}).get("HTTP-Response-Metadata", {})
    if "HTML-Metadata" not in response:
        return None
    headers = {k.lower(): v for k, v in response.get("Headers", {}).items()}
    status = response.get("Response-Message", {}).get("Status", "0")
    return WatPage(url=envelope["WARC-Header-Metadata"].get("WARC-Target-URI", "").strip(),
                   status=int(status) if str(status).isdigit() else 0,
                   x_robots_tag=headers.get("x-robots-tag", ""), metadata=json.dumps(response))


def _record(record) -> ArchivedResponse | WatPage | PageText | None:
    if record.rec_type == "response":
        return _response(record)
    if record.rec_type == "conversion":  # WET
        url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip()
        return PageText(url=url, text=record.content_stream().read().decode("utf-8", "replace"))
    content_type = record.rec_headers.get_header("Content-Type") or ""
    if record.rec_type == "metadata" and content_type.startswith("application/json"):  # WAT
        return _wat_page(record)
    return None


def read_archive(stream: BinaryIO, path: str
                 ) -> Iterator[ArchivedResponse | WatPage | PageText | ArchiveError]:
    """Every record that counts (see the module docstring), then an ArchiveError if reading
    broke off."""
    read = 0
    try:
        for record in ArchiveIterator(stream, arc2warc=True):
            item = _record(record)
            if item is not None:
                read += 1
                yield item
    except Exception as e:  # warcio raises several types on damaged input
        yield ArchiveError(path=path, records_read=read, detail=f"{type(e).__name__}: {e}"[:300])
