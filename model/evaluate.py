"""``openwebli eval``: decode a mixture split, task by task, and score each with its evaluator.

The examples of a task that share an image and a prompt are one question with several
references (a photo's captions, a VQA question's answers): predicted once, scored against all.
"""
from __future__ import annotations

import json
import logging
import os

from model.configs import DecodeConfig
from model.metrics import TASK_EVALUATOR, evaluate
from pipelines.mixture.reader import MixtureFolder

log = logging.getLogger("openwebli.eval")


def questions(rows) -> list[dict]:
    """Rows (``image_key``, ``prefix``, ``target``, ``source_id``) → one question per (image,
    prompt): ``id`` (the first row's source id, made unique), ``image_key``, ``prompt``,
    ``references`` (in row order)."""
    grouped: dict[tuple, dict] = {}
    seen: dict[str, int] = {}
    for row in rows:
        key = (row["image_key"], row["prefix"])
        if key not in grouped:
            n = seen[row["source_id"]] = seen.get(row["source_id"], 0) + 1
            qid = row["source_id"] if n == 1 else f"{row['source_id']}#{n}"
            grouped[key] = {"id": qid, "image_key": row["image_key"], "prompt": row["prefix"],
                            "references": []}
        grouped[key]["references"].append(row["target"])
    return list(grouped.values())


def evaluate_task(predictor, folder: MixtureFolder, task: str, split: str = "validation",
                  limit: int | None = None, decoding: DecodeConfig = DecodeConfig()) -> dict:
    """The task's metrics, and its questions with their predictions. Rows are grouped without
    their images; only the questions kept (``limit``) read theirs from the store."""
    rows = folder.task_rows(task, split)
    qs = questions(rows[i] for i in range(len(rows)))[:limit]
    images = [folder.images[q["image_key"]] for q in qs]
    results = predictor.predict_batch(images, [q["prompt"] for q in qs], decoding)
    for q, r in zip(qs, results):
        q.update(r)
    kind = TASK_EVALUATOR.get(task, "exact")
    metrics = evaluate(kind, {q["id"]: q["prediction"] for q in qs},
                       {q["id"]: q["references"] for q in qs})
    return {"evaluator": kind, **metrics}, qs


def evaluate_folder(predictor, data_dir: str, split: str = "validation",
                    tasks: list[str] | None = None, limit: int | None = None,
                    decoding: DecodeConfig = DecodeConfig(),
                    predictions_dir: str | None = None) -> dict:
    """Every task of the mixture (or ``tasks``) with examples in ``split``: {task: metrics}.
    With ``predictions_dir``, each task's predictions and references are written there as
    ``<task>.predictions.jsonl`` / ``<task>.references.jsonl`` (``openwebli metrics`` input)."""
    folder = MixtureFolder(data_dir)
    names = tasks or sorted(folder.info["tasks"])
    unknown = sorted(set(names) - set(folder.info["tasks"]))
    if unknown:
        raise KeyError(f"no tasks {unknown} in {data_dir} (have {sorted(folder.info['tasks'])})")
    out = {}
    for task in names:
        if folder.count(task, split) == 0:
            log.warning("%s: no %s examples; not evaluated", task, split)
            continue
        out[task], qs = evaluate_task(predictor, folder, task, split, limit, decoding)
        log.info("%s: %s %.4f over %d", task, out[task]["metric"], out[task]["value"], len(qs))
        if predictions_dir:
            write_jsonl(predictions_dir, task, qs)
    return out


def write_jsonl(folder: str, task: str, qs: list[dict]) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{task}.predictions.jsonl"), "w") as p, \
            open(os.path.join(folder, f"{task}.references.jsonl"), "w") as r:
        for q in qs:
            p.write(json.dumps({"id": q["id"], "prompt": q["prompt"],
                                "prediction": q["prediction"], "score": q["score"]},
                               ensure_ascii=False) + "\n")
            r.write(json.dumps({"id": q["id"], "references": q["references"]},
                               ensure_ascii=False) + "\n")


def read_jsonl(path: str, field: str) -> dict:
    """``{id: line[field]}`` of a JSON-lines file, with a clear error for a bad line."""
    out = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                out[str(record["id"])] = record[field]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{number}: expected a JSON object with \"id\" and "
                                 f"\"{field}\" ({e})") from None
    return out


def score_files(kind: str, predictions_path: str, references_path: str) -> dict:
    """``openwebli metrics``: score a predictions file against a references file. A reference
    given as one string counts as a list of one; ids without a prediction score as empty
    predictions; predictions without a reference are counted and left out."""
    predictions = {k: str(v) for k, v in read_jsonl(predictions_path, "prediction").items()}
    references = {k: [v] if isinstance(v, str) else list(v)
                  for k, v in read_jsonl(references_path, "references").items()}
    result = evaluate(kind, predictions, references)
    result["missing_predictions"] = len(set(references) - set(predictions))
    result["unmatched_predictions"] = len(set(predictions) - set(references))
    return result
