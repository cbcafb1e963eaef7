"""Safety verdicts: hash lists, opt-out lists and unsafe-text term lists. Pure (no Beam).

- **Hash lists** hold images that must never be kept, as hash-sharing programmes distribute
  them: one ``sha256:<hex>``, ``md5:<hex>`` or ``phash:<hex>`` a line. SHA-256 and MD5 match
  the served bytes exactly; a pHash matches within ``max_distance`` bits, found through the
  band index of ``quality_filters.dedup`` (pigeonhole: within ``bands - 1`` bits, one band
  agrees exactly), so a long list costs a few dict look-ups an image.
- **Opt-out lists** hold domains (a domain covers its subdomains; ``*.`` is accepted) and URL
  prefixes (``http(s)://…``), one a line; a URL that matches is never requested.
- **Unsafe text**: term and phrase lists, one a line, matched case-insensitively after NFKC on
  Unicode word boundaries; terms in scripts written without spaces (Han, kana, Thai, …) match
  anywhere in the text, as they would not otherwise match at all.

List files may hold blank lines and ``#`` comments.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from quality_filters.dedup import band_keys, hamming

HASH_KINDS = ("sha256", "md5", "phash")
_HEX_LENGTHS = {"sha256": 64, "md5": 32, "phash": 16}
DEFAULT_PHASH_DISTANCE = 6  # bits of 64, as near-duplicate removal: re-encodes and resizes land within it
_PHASH_BANDS = 8
TERMS_DIR = Path(__file__).with_name("unsafe_terms")  # the shipped default lists, <lang>.txt


def list_lines(lines: Iterable[str]) -> Iterable[tuple[int, str]]:
    """(line number, stripped text) of each line that is not blank or a ``#`` comment."""
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if text:
            yield number, text


@dataclasses.dataclass(frozen=True)
class HashList:
    """Blocked image hashes. ``match`` → the kind that matched ("sha256", "md5", "phash")."""

    sha256: frozenset[str] = frozenset()
    md5: frozenset[str] = frozenset()
    phash: tuple[str, ...] = ()
    max_distance: int = DEFAULT_PHASH_DISTANCE

    def __post_init__(self):
        if not 0 <= self.max_distance < _PHASH_BANDS:
            raise ValueError(f"pHash distance {self.max_distance}: 0 to {_PHASH_BANDS - 1} bits")
        index: dict[str, list[str]] = {}
        for h in self.phash:
            for key in band_keys(h, _PHASH_BANDS):
                index.setdefault(key, []).append(h)
        object.__setattr__(self, "_bands", index)

    def __len__(self) -> int:
        return len(self.sha256) + len(self.md5) + len(self.phash)

    @classmethod
    def parse(cls, lines: Iterable[str], source: str = "<list>",
              max_distance: int = DEFAULT_PHASH_DISTANCE) -> "HashList":
        """Lines ``kind:hex`` → HashList; ValueError naming ``source`` and the line if one is bad."""
        found = {kind: set() for kind in HASH_KINDS}
        for number, text in list_lines(lines):
            kind, _, value = text.partition(":")
            kind, value = kind.strip().lower(), value.strip().lower()
            if kind not in found:
                raise ValueError(f"{source}:{number}: {text!r} is not kind:hex with a kind of "
                                 f"{', '.join(HASH_KINDS)}")
            if len(value) != _HEX_LENGTHS[kind] or not re.fullmatch(r"[0-9a-f]+", value):
                raise ValueError(f"{source}:{number}: a {kind} is {_HEX_LENGTHS[kind]} hex "
                                 f"digits, got {value!r}")
            found[kind].add(value)
        return cls(frozenset(found["sha256"]), frozenset(found["md5"]),
                   tuple(sorted(found["phash"])), max_distance)

    @classmethod
    def from_files(cls, paths: Iterable[str], max_distance: int = DEFAULT_PHASH_DISTANCE,
                   read=None) -> "HashList":
        """The union of the lists in ``paths`` (``read(path)`` → text; local files by default)."""
        read = read or (lambda path: Path(path).read_text(encoding="utf-8"))
        lists = [cls.parse(read(p).splitlines(), p, max_distance) for p in paths]
        return cls(frozenset().union(*(h.sha256 for h in lists)),
                   frozenset().union(*(h.md5 for h in lists)),
                   tuple(sorted({p for h in lists for p in h.phash})), max_distance)

    def match(self, sha256: str = "", md5: str = "", phash: str = "") -> str:
        """The kind of the first entry that matches, or "" when none does."""
        if sha256 and sha256.lower() in self.sha256:
            return "sha256"
        if md5 and md5.lower() in self.md5:
            return "md5"
        if phash and self.phash:
            for key in band_keys(phash, _PHASH_BANDS):
                if any(hamming(phash, h) <= self.max_distance for h in self._bands.get(key, ())):
                    return "phash"
        return ""

    def match_bytes(self, data: bytes, phash: str = "") -> str:
        """``match`` for an image's served bytes (both digests computed here) and its pHash."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest() if self.md5 else ""
        return self.match(hashlib.sha256(data).hexdigest(), md5, phash)


def _host(url: str) -> str:
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


@dataclasses.dataclass(frozen=True)
class OptOutList:
    """Domains and URL prefixes whose owners opted out. ``match(url)`` → the entry, or ""."""

    domains: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.domains or self.prefixes)

    @classmethod
    def parse(cls, lines: Iterable[str], source: str = "<list>") -> "OptOutList":
        domains, prefixes = set(), set()
        for number, text in list_lines(lines):
            if "://" in text:
                if urllib.parse.urlsplit(text).scheme not in ("http", "https"):
                    raise ValueError(f"{source}:{number}: {text!r}: URL prefixes are http(s)")
                prefixes.add(text)
            else:
                domain = _host("http://" + text.removeprefix("*.").strip("/"))
                if not domain or "/" in text.strip("/"):
                    raise ValueError(f"{source}:{number}: {text!r} is neither a domain nor an "
                                     "http(s) URL prefix")
                domains.add(domain)
        return cls(frozenset(domains), tuple(sorted(prefixes)))

    @classmethod
    def from_files(cls, paths: Iterable[str], read=None) -> "OptOutList":
        read = read or (lambda path: Path(path).read_text(encoding="utf-8"))
        lists = [cls.parse(read(p).splitlines(), p) for p in paths]
        return cls(frozenset().union(*(o.domains for o in lists)),
                   tuple(sorted({p for o in lists for p in o.prefixes})))

    def match(self, url: str) -> str:
        if not self:
            return ""
        host = _host(url)
        labels = host.split(".")
        for i in range(len(labels)):
            if ".".join(labels[i:]) in self.domains:
                return ".".join(labels[i:])
        return next((p for p in self.prefixes if url.startswith(p)), "")


# Scripts written without spaces between words: their terms match inside longer runs.
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
                       r"\u4e00-\u9fff\uf900-\ufaff]")


def normalize_for_match(text: str) -> str:
    """NFKC (full-width letters, ligatures) and case folding: what terms are matched against."""
    return unicodedata.normalize("NFKC", text).casefold()


def _term_pattern(term: str) -> str:
    body = r"\s+".join(re.escape(word) for word in term.split())
    return body if _UNSPACED.search(term) else rf"(?<!\w){body}(?!\w)"


@dataclasses.dataclass(frozen=True)
class TermList:
    """Unsafe words and phrases. ``find(text)`` → the distinct terms found, in order."""

    terms: tuple[str, ...] = ()

    def __post_init__(self):
        ordered = sorted(set(self.terms), key=lambda t: (-len(t), t))  # longest first
        pattern = "|".join(_term_pattern(t) for t in ordered)
        object.__setattr__(self, "terms", tuple(ordered))
        object.__setattr__(self, "_regex", re.compile(pattern) if ordered else None)

    @classmethod
    def parse(cls, lines: Iterable[str]) -> "TermList":
        return cls(tuple(normalize_for_match(" ".join(t.split())) for _, t in list_lines(lines)))

    @classmethod
    def from_files(cls, paths: Iterable[str], default: bool = True, read=None) -> "TermList":
        """The shipped lists (``default``) and the files in ``paths``, merged."""
        read = read or (lambda path: Path(path).read_text(encoding="utf-8"))
        files = [*(sorted(str(p) for p in TERMS_DIR.glob("*.txt")) if default else []), *paths]
        return cls(tuple(t for f in files for t in cls.parse(read(f).splitlines()).terms))

    def find(self, *texts: str) -> list[str]:
        if self._regex is None:
            return []
        found = {}
        for text in texts:
            for m in self._regex.finditer(normalize_for_match(text)):
                found.setdefault(" ".join(m.group().split()), None)
        return list(found)
