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


def tdm_reserved(headers: dict[str, str]) -> bool:
    """True when a response carries the TDM Reservation Protocol's ``tdm-reservation: 1``
    header (W3C TDMRep: the rightsholder reserves text-and-data-mining rights). ``headers``
    has lower-cased names."""
    return headers.get("tdm-reservation", "").strip() == "1"
