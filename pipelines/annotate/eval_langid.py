"""``openwebli eval-langid``: per-language top-1 accuracy of the language-ID model.

DIR holds ``<code>.txt`` files, one text a line, labelled by the file name (normalised as the
model's labels are: ``nb`` is scored against lid.176's ``no``). Languages the model has no label
for are listed as unsupported, not failed. Every text is scored on its top-1 label, with no
confidence cut-off.

Two figures are reported, both means over the supported languages (one entry per file):

- ``mean_exact_accuracy``: strict. A text is right only when the label is its language.
- ``mean_accuracy``: the same, with each group in ``CONFUSABLE`` (languages lid.176 is known to
  mix up: ms/id, bs/hr/sr/sh, no/nn/da) scored as one class: a label anywhere in the group
  counts as right for each member. It says whether the text went to the right group, not to
  the right language within it; for languages outside the groups the two figures are equal.

``groups`` shows the groups apart: for each, its members here, their exact accuracy and the
group accuracy (the mean over its members of the share labelled inside the group).

On ``../shared/data/langid/sentences`` (67 supported languages) the strict figure is 0.894 and
the group-as-one-class figure 0.930; on ``single-words`` 0.517 and 0.540 (docs/langid.md).
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


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / max(1, len(values)), 4)


def evaluate_langid(folder: str | Path, model: LangId | None = None) -> dict:
    """Accuracy per language (exact and group-as-one-class), per confusable group, and the
    means over the supported languages."""
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
            "accuracy": round(sum(p in _group(gold) for p in predicted) / len(texts), 4),
            "exact_accuracy": round(sum(p == gold for p in predicted) / len(texts), 4),
            "confused_with": dict(confusions),
        }
    groups = []
    for group in CONFUSABLE:
        members = [c for c in languages if normalize_label(c) in group]
        if members:
            groups.append({"group": sorted(group), "members": members,
                           "exact_accuracy": {c: languages[c]["exact_accuracy"] for c in members},
                           "group_accuracy": _mean(languages[c]["accuracy"] for c in members)})
    return {"mean_accuracy": _mean(v["accuracy"] for v in languages.values()),
            "mean_exact_accuracy": _mean(v["exact_accuracy"] for v in languages.values()),
            "supported": len(languages), "unsupported": unsupported, "groups": groups,
            "languages": languages}


def markdown_table(result: dict) -> str:
    """The per-language table, then the table of the confusable groups."""
    rows = ["| language | n | top-1 exact | top-1, group as one class | most confused with |",
            "|---|---:|---:|---:|---|"]
    for code, r in result["languages"].items():
        confused = ", ".join(f"{k} ({v})" for k, v in r["confused_with"].items())
        rows.append(f"| {code} | {r['n']} | {r['exact_accuracy']:.3f} | {r['accuracy']:.3f} "
                    f"| {confused} |")
    rows.append(f"| **mean ({result['supported']} supported)** | | "
                f"**{result['mean_exact_accuracy']:.3f}** | **{result['mean_accuracy']:.3f}** | |")
    rows += ["", "| confusable group | exact top-1 of each member | group accuracy |",
             "|---|---|---:|"]
    for g in result["groups"]:
        exact = ", ".join(f"{c} {a:.3f}" for c, a in g["exact_accuracy"].items())
        rows.append(f"| {'/'.join(g['group'])} | {exact} | {g['group_accuracy']:.3f} |")
    return "\n".join(rows)
