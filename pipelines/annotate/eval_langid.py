"""``openwebli eval-langid``: per-language top-1 accuracy of the language-ID model.

DIR holds ``<code>.txt`` files, one text a line, labelled by the file name. Languages the model
has no label for are listed as unsupported, not failed. Groups of languages that lid.176 is
known to confuse are scored twice: exact, and counting any member of the group as right.
"""
from __future__ import annotations

import collections
from pathlib import Path

from pipelines.annotate.langid_model import LangId, LangIdConfig, normalize_label

CONFUSABLE = (frozenset({"ms", "id"}), frozenset({"bs", "hr", "sr", "sh"}),
              frozenset({"no", "nn", "da"}))


def _group(code: str) -> frozenset:
    return next((g for g in CONFUSABLE if code in g), frozenset({code}))


def read_labelled(folder: str | Path) -> dict[str, list[str]]:
    files = sorted(Path(folder).glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no <language>.txt files in {folder}")
    return {f.stem: [t for t in f.read_text("utf-8").splitlines() if t.strip()] for f in files}


def evaluate_langid(folder: str | Path, model: LangId | None = None) -> dict:
    """Accuracy per language and their means over the supported languages."""
    model = model or LangId(LangIdConfig(min_confidence=0.0))  # top-1, no "und" cut-off
    supported = {normalize_label(l) for l in model.model.get_labels()}
    languages, unsupported = {}, []
    for code, texts in read_labelled(folder).items():
        gold = normalize_label(code)
        if gold not in supported:
            unsupported.append(code)
            continue
        predicted = [label for label, _ in model.predict(texts)]
        confusions = collections.Counter(p for p in predicted if p != gold).most_common(3)
        languages[code] = {
            "n": len(texts),
            "accuracy": round(sum(p == gold for p in predicted) / len(texts), 4),
            "group_accuracy": round(sum(p in _group(gold) for p in predicted) / len(texts), 4),
            "confused_with": dict(confusions),
        }
    mean = lambda key: round(sum(v[key] for v in languages.values()) / max(1, len(languages)), 4)
    return {"mean_accuracy": mean("accuracy"), "mean_group_accuracy": mean("group_accuracy"),
            "supported": len(languages), "unsupported": unsupported,
            "confusable_groups": [sorted(g) for g in CONFUSABLE], "languages": languages}


def markdown_table(result: dict) -> str:
    rows = ["| language | n | top-1 | top-1 within group | most confused with |",
            "|---|---:|---:|---:|---|"]
    for code, r in result["languages"].items():
        confused = ", ".join(f"{k} ({v})" for k, v in r["confused_with"].items())
        rows.append(f"| {code} | {r['n']} | {r['accuracy']:.3f} | {r['group_accuracy']:.3f} "
                    f"| {confused} |")
    rows.append(f"| **mean ({result['supported']} supported)** | | "
                f"**{result['mean_accuracy']:.3f}** | **{result['mean_group_accuracy']:.3f}** | |")
    return "\n".join(rows)
