"""Personal data in text: e-mail addresses, phone numbers, payment card numbers, IBANs and IP
addresses — found, and redacted. Pure (no Beam).

Phone numbers are found by ``phonenumbers`` (libphonenumber's metadata: which digit runs are
real numbers in which country), with numbers written in international form (+…) matched in
any text and national ones in the region the text's language suggests. The checksums of card
numbers (Luhn) and IBANs (ISO 7064 mod 97-10) are a few lines each and written here; they
keep order numbers and other digit runs that merely look like them from being redacted.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re

import phonenumbers

PII_KINDS = ("email", "phone", "card", "iban", "ip")
PII_MODES = ("redact", "drop", "keep")
_PRIORITY = ("email", "card", "iban", "ip", "phone")  # where two finds overlap

# A national number is looked for in the region of the text's language (its most populous
# one); other texts match only international (+…) numbers.
LANG_REGION = {"en": "US", "de": "DE", "fr": "FR", "es": "ES", "it": "IT", "pt": "BR",
               "nl": "NL", "pl": "PL", "ru": "RU", "uk": "UA", "tr": "TR", "ja": "JP",
               "ko": "KR", "zh": "CN", "hi": "IN", "id": "ID", "vi": "VN", "th": "TH",
               "ar": "EG", "sv": "SE", "cs": "CZ", "el": "GR", "hu": "HU", "ro": "RO"}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Z0-9])", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class PiiSpan:
    kind: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a card number (digits only)."""
    total = 0
    for i, d in enumerate(int(c) for c in reversed(digits)):
        total += d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616's check: the country and check digits moved to the end, letters as 10–35,
    the number mod 97 is 1."""
    s = iban.replace(" ", "").upper()
    moved = s[4:] + s[:4]
    return 15 <= len(s) <= 34 and int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _cards(text: str):
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
            yield PiiSpan("card", m.start(), m.end())


def _ibans(text: str):
    for m in _IBAN.finditer(text):
        if iban_valid(m.group()):
            yield PiiSpan("iban", m.start(), m.end())


def _ips(text: str):
    for regex in (_IPV4, _IPV6):
        for m in regex.finditer(text):
            try:
                ipaddress.ip_address(m.group())
            except ValueError:
                continue
            yield PiiSpan("ip", m.start(), m.end())


def _phones(text: str, region: str | None):
    for m in phonenumbers.PhoneNumberMatcher(text, region or "ZZ",
                                             leniency=phonenumbers.Leniency.VALID):
        yield PiiSpan("phone", m.start, m.end)


def find_pii(text: str, lang: str = "") -> list[PiiSpan]:
    """Non-overlapping spans of personal data in ``text``, in order. Where two finds overlap,
    the earlier kind of ``_PRIORITY`` wins (a card's digits are not also a phone)."""
    found = [*(PiiSpan("email", m.start(), m.end()) for m in _EMAIL.finditer(text)),
             *_phones(text, LANG_REGION.get(lang)), *_cards(text), *_ibans(text), *_ips(text)]
    found.sort(key=lambda s: (_PRIORITY.index(s.kind), s.start))
    kept: list[PiiSpan] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def redact(text: str, spans: list[PiiSpan]) -> str:
    """``text`` with each span replaced by its kind in capitals and brackets: ``[EMAIL]``."""
    out, last = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        out.append(text[last:span.start])
        out.append(f"[{span.kind.upper()}]")
        last = span.end
    out.append(text[last:])
    return "".join(out)
