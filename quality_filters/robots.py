"""Robots directives that opt content out of AI use: X-Robots-Tag and <meta name="robots">."""
from __future__ import annotations

AI_OPT_OUT = frozenset({"noai", "noimageai"})


def parse_directives(value: str) -> set[str]:
    """``"noindex, NoAI"`` → ``{"noindex", "noai"}``. A ``bot: directive`` prefix is dropped."""
    out = set()
    for part in value.split(","):
        token = part.strip().lower()
        if ":" in token:
            token = token.split(":", 1)[1].strip()
        if token:
            out.add(token)
    return out


def opts_out_of_ai(*values: str) -> bool:
    """True when any header or meta value carries noai / noimageai."""
    return any(parse_directives(v) & AI_OPT_OUT for v in values if v)
