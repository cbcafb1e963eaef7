"""Per-stage accounting: seen / kept / rejected-by-reason, written to ``stats.json``.

Every stage reports what it saw independently of what it passed on and rejected, so
``kept + sum(rejected) == seen`` is a real check, recorded per stage as ``balanced``.
"""
from __future__ import annotations

import apache_beam as beam

from pipelines.corpus_io import write_json

STAGE_ORDER = ("archive", "crawl", "urllist", "extract", "in_archive", "archived", "fetch",
               "dedup", "annotate", "safety", "score")


def count_stage(stage: str, seen, kept, rejected, seen_is_count: bool = False):
    """→ PCollection of (stage, key, n): key is "seen", "kept" or "rejected:<reason>".

    ``seen`` is a PCollection of the stage's inputs, or of integers to add up when
    ``seen_is_count`` (for a stage whose inputs are counted inside its DoFn). One combine
    counts all three (each combine is a stage of its own in the runner, run one after the
    other); "seen" and "kept" rows are there even when the stage saw nothing."""
    p = seen.pipeline
    seen_n = (lambda n: ((stage, "seen"), n)) if seen_is_count else (lambda _: ((stage, "seen"), 1))
    return (
        p | f"{stage}Zeros" >> beam.Create([((stage, "seen"), 0), ((stage, "kept"), 0)],
                                           reshuffle=False),
        seen | f"{stage}Seen" >> beam.Map(seen_n),
        kept | f"{stage}Kept" >> beam.Map(lambda _: ((stage, "kept"), 1)),
        rejected | f"{stage}Reasons" >> beam.Map(lambda r: ((stage, f"rejected:{r.reason}"), 1)),
    ) | f"{stage}Keys" >> beam.Flatten() | f"{stage}Count" >> beam.CombinePerKey(sum) | (
        f"{stage}Rows" >> beam.Map(lambda kv: (*kv[0], kv[1])))


def stats_from_counts(rows, extra: dict | None = None) -> dict:
    """(stage, key, n) rows → {"stages": {stage: {seen, kept, rejected{}, balanced}}, **extra}."""
    stages: dict[str, dict] = {}
    for stage, key, n in rows:
        entry = stages.setdefault(stage, {"seen": 0, "kept": 0, "rejected": {}})
        if key.startswith("rejected:"):
            entry["rejected"][key.split(":", 1)[1]] = int(n)
        else:
            entry[key] = int(n)
    for entry in stages.values():
        entry["rejected"] = dict(sorted(entry["rejected"].items()))
        entry["balanced"] = entry["kept"] + sum(entry["rejected"].values()) == entry["seen"]
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    ordered = dict(sorted(stages.items(), key=lambda kv: order.get(kv[0], len(order))))
    return {"stages": ordered, **(extra or {})}


class WriteStats(beam.PTransform):
    """Count rows (+ one-element PCollections of extra values) → ``<folder>/stats.json``."""

    def __init__(self, folder: str, extras: dict | None = None):
        super().__init__()
        self.folder = folder
        self.extras = extras or {}

    def expand(self, rows):
        side = {name: beam.pvalue.AsSingleton(pc) for name, pc in self.extras.items()}

        def write(all_rows, **extra):
            write_json(self.folder, "stats.json", stats_from_counts(all_rows, extra))

        return rows | "AllCounts" >> beam.combiners.ToList() | "WriteStats" >> beam.Map(
            write, **side)


def format_funnel(stats: dict) -> str:
    """A plain-text table of the per-stage funnel, and the text gate's count where there is one."""
    lines = [f"{'stage':<10}{'seen':>8}{'kept':>8}{'rejected':>10}  reasons"]
    for stage, e in stats["stages"].items():
        reasons = ", ".join(f"{k}={v}" for k, v in e["rejected"].items())
        mark = "" if e["balanced"] else "  (UNBALANCED)"
        lines.append(f"{stage:<10}{e['seen']:>8}{e['kept']:>8}"
                     f"{sum(e['rejected'].values()):>10}  {reasons}{mark}")
    if stats.get("safety_actions"):
        lines.append("safety: " + ", ".join(f"{k}={v}" for k, v in stats["safety_actions"].items()))
    if "ocr_skipped_by_text_gate" in stats:
        lines.append(f"OCR not run (no text seen by the text gate): "
                     f"{stats['ocr_skipped_by_text_gate']} of "
                     f"{stats['stages']['annotate']['kept']} annotated pairs")
    return "\n".join(lines)
