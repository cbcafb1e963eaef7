"""Alt-text checks. Pure (no Beam)."""
from __future__ import annotations

import re

from quality_filters.verdict import Verdict

# Alt texts that describe nothing: placeholders and file names.
_PLACEHOLDERS = frozenset({"image", "img", "photo", "picture", "logo", "icon", "banner", "spacer",
                           "untitled", "click here", "alt", "thumbnail"})
_FILENAME = re.compile(r"^[\w\-. ]+\.(jpe?g|png|gif|webp|bmp|svg)$", re.IGNORECASE)


def normalize_text(text: str) -> str:
    """Collapse white space (newlines included) to single spaces and strip."""
    return " ".join(text.split())


def check_alt_text(alt: str, *, min_chars: int = 3, max_chars: int = 500) -> Verdict:
    """Keep an alt text that could describe its image."""
    text = normalize_text(alt)
    if not text:
        return Verdict.drop("no_alt_text")
    if len(text) < min_chars:
        return Verdict.drop("alt_text_too_short", text)
    if len(text) > max_chars:
        return Verdict.drop("alt_text_too_long", str(len(text)))
    if text.lower() in _PLACEHOLDERS or _FILENAME.match(text):
        return Verdict.drop("placeholder_alt_text", text)
    return Verdict.ok()
