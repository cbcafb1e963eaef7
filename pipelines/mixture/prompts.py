"""Task prompts in two styles. Pure.

``pali`` (the default): PaLI's instructions, e.g. ``Generate the alt_text in en``.
``paligemma``: PaliGemma's short prefixes, e.g. ``caption en``. A prompt's fields are filled
from the record (``lang`` is a language code, ``pos`` the number of units before a split).
"""
from __future__ import annotations

STYLES = ("pali", "paligemma")
DEFAULT_STYLE = "pali"

PROMPTS = {  # task → (pali, paligemma)
    "captioning": ("Generate the alt_text in {lang}", "caption {lang}"),
    "split_captioning": ("Generate the alt_text in {lang} at {pos}: {head} <extra_id_0>",
                         "split caption {lang}: {head}"),
    "ocr": ("Generate the OCR text in {lang}", "ocr"),
    "detection": ("detect {labels}", "detect {labels}"),
    "vqa": ("Answer in {lang}: {question}", "answer {lang} {question}"),
    "vqg": ("Generate a question in {lang} for {answer}", "question {lang} {answer}"),
}


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}; expected one of {STYLES}")
    return style


def prompt(task: str, style: str = DEFAULT_STYLE, **fields) -> str:
    """The prompt of ``task`` in ``style`` with ``fields`` filled in."""
    return PROMPTS[task][STYLES.index(check_style(style))].format(**fields)
