"""Web archives (WARC, gzipped per record or whole file, and legacy ARC) → HTTP responses.

Reading is warcio's ``ArchiveIterator`` (``arc2warc`` turns ARC records into WARC ones). Only
``response`` records count; a damaged archive ends with an ``ArchiveError`` after every record
that could be read, so what was readable is kept and the damage is counted.
"""
from __future__ import annotations

import dataclasses
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator


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


def read_archive(stream: BinaryIO, path: str) -> Iterator[ArchivedResponse | ArchiveError]:
    """Every response record of an archive, then an ArchiveError if reading broke off."""
    read = 0
    try:
        for record in ArchiveIterator(stream, arc2warc=True):
            if record.rec_type == "response":
                read += 1
                yield _response(record)
    except Exception as e:  # warcio raises several types on damaged input
        yield ArchiveError(path=path, records_read=read, detail=f"{type(e).__name__}: {e}"[:300])
