"""URL lists → candidates: img2dataset/LAION parquet, CC3M tsv, url-per-line text. Pure.

Column names are matched case-insensitively: the URL from ``url``, the caption from ``text``,
``txt`` or ``caption``. A CC3M ``.tsv`` is ``caption<TAB>url`` without a header; a ``.txt`` list
has one URL a line and no captions (its rows are rejected as ``no_alt_text``). A row's pair id
is ``pair_id(caption, url)``, so the same row in two lists is one pair.
"""
from __future__ import annotations

import urllib.parse
from typing import BinaryIO, Iterator

from quality_filters.text import check_alt_text, normalize_text
from schemas import Candidate, Rejection, pair_id

URL_COLUMNS = ("url",)
CAPTION_COLUMNS = ("text", "txt", "caption")
FORMATS = ("parquet", "tsv", "txt")


def list_format(path: str) -> str:
    suffix = path.rsplit(".", 1)[-1].lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown URL-list format .{suffix}; expected one of {FORMATS}")
    return suffix


def _pick(names: list[str], wanted: tuple[str, ...], path: str, required: bool) -> str | None:
    lower = {n.lower(): n for n in names}
    found = next((lower[w] for w in wanted if w in lower), None)
    if found is None and required:
        raise ValueError(f"{path}: no column named {' or '.join(wanted)} (have {names})")
    return found


def parquet_rows(stream: BinaryIO, path: str) -> Iterator[tuple[str, str]]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream)
    names = parquet.schema_arrow.names
    url_col = _pick(names, URL_COLUMNS, path, required=True)
    text_col = _pick(names, CAPTION_COLUMNS, path, required=False)
    columns = [url_col] + ([text_col] if text_col else [])
    for batch in parquet.iter_batches(columns=columns, batch_size=8192):
        urls = batch.column(url_col).to_pylist()
        texts = batch.column(text_col).to_pylist() if text_col else [""] * len(urls)
        yield from zip(urls, texts)


def text_rows(stream: BinaryIO, fmt: str) -> Iterator[tuple[str, str]]:
    for raw in stream:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if fmt == "tsv":
            caption, _, url = line.partition("\t")
            yield url, caption
        else:
            yield line.strip(), ""


def candidate_from_row(url, caption) -> Candidate | Rejection:
    url, caption = (url or "").strip(), normalize_text(caption or "")
    pid = pair_id(caption, url)
    reject = lambda reason, detail="": Rejection(stage="urllist", reason=reason, record_id=pid,
                                                  url=url[:500], detail=detail)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return reject("bad_url", url[:100])
    verdict = check_alt_text(caption)
    if not verdict.keep:
        return reject(verdict.reason, verdict.detail)
    return Candidate(pair_id=pid, page_url="", image_url=url, alt_text=caption)


def read_url_list(stream: BinaryIO, path: str) -> Iterator[Candidate | Rejection]:
    """Every row of a URL list as a Candidate, or a Rejection (stage "urllist") with a reason."""
    fmt = list_format(path)
    rows = parquet_rows(stream, path) if fmt == "parquet" else text_rows(stream, fmt)
    for url, caption in rows:
        yield candidate_from_row(url, caption)
