"""Evaluators: pure functions of predictions and references (``{id: text}``, ``{id: [text, …]}``).

- ``captioning``: CIDEr-D and BLEU-4 as the COCO caption evaluation computes them
  (coco-caption / ``pycocoevalcap``: n = 1…4, σ = 6, clipped tf-idf, document frequencies from
  the references, ×10; corpus BLEU with the closest reference length). Written here rather than
  imported: ``pycocoevalcap``'s tokenizer needs Java and its scorers print and hold state; the
  tests check these figures against it.
- ``vqa``: VQA accuracy with the VQA evaluation's answer normalisation.
- ``exact``: exact match (after collapsing whitespace) and character error rate.
- ``detection``: ``<locNNNN>`` boxes matched to the references' at IoU ≥ 0.5; precision,
  recall and F1 per label and over all labels.

Each returns a dict with ``metric`` (the headline's name), ``value`` and ``examples``.
"""
from __future__ import annotations

import collections
import math
import re

from pipelines.annotate.eval_ocr import edit_distance
from pipelines.mixture.tasks.objects import LOC_BINS  # as the detection task writes them

# --- captioning ---------------------------------------------------------------------------

# coco-caption's PTBTokenizer (Stanford CoreNLP, Java) lowercases, splits off punctuation and
# clitics, then drops these punctuation tokens. Approximated by regular expressions; CJK
# characters (unsegmented scripts) count as one token each.
_DROPPED = {"''", "'", "``", "`", "-lrb-", "-rrb-", "-lcb-", "-rcb-", ".", "?", "!", ",", ":",
            "-", "--", "...", ";", "(", ")", "[", "]", "{", "}", '"'}
_CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|\w+(?=n't)|n't|'(?:s|re|ve|ll|d|m)\b|\w+(?:-\w+)*|\.\.\.|--|[^\w\s]")


def caption_tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _DROPPED]


def _ngrams(words: list[str], n: int = 4) -> collections.Counter:
    return collections.Counter(tuple(words[i:i + k]) for k in range(1, n + 1)
                               for i in range(len(words) - k + 1))


def cider_d(predictions: dict, references: dict, sigma: float = 6.0) -> tuple[float, dict]:
    """Corpus CIDEr-D and each id's score."""
    ids = sorted(references)
    refs = {i: [_ngrams(caption_tokens(r)) for r in references[i]] for i in ids}
    hyps = {i: _ngrams(caption_tokens(predictions.get(i, ""))) for i in ids}
    df = collections.Counter(g for i in ids for g in set().union(*refs[i]))
    log_n = math.log(float(len(ids)))

    def vector(counts):
        vec, norm = [{} for _ in range(4)], [0.0] * 4
        for gram, tf in counts.items():
            vec[len(gram) - 1][gram] = tf * (log_n - math.log(max(1.0, df[gram])))
            norm[len(gram) - 1] += vec[len(gram) - 1][gram] ** 2
        length = sum(tf for gram, tf in counts.items() if len(gram) == 2)  # as coco-caption
        return vec, [math.sqrt(x) for x in norm], length

    def similarity(hyp, ref):
        (vh, nh, lh), (vr, nr, lr) = hyp, ref
        out = []
        for n in range(4):
            val = sum(min(w, vr[n].get(g, 0.0)) * vr[n].get(g, 0.0) for g, w in vh[n].items())
            if nh[n] and nr[n]:
                val /= nh[n] * nr[n]
            out.append(val * math.exp(-((lh - lr) ** 2) / (2 * sigma ** 2)))
        return out

    scores = {}
    for i in ids:
        hyp = vector(hyps[i])
        total = [0.0] * 4
        for ref in refs[i]:
            total = [a + b for a, b in zip(total, similarity(hyp, vector(ref)))]
        scores[i] = sum(total) / 4 / len(refs[i]) * 10.0
    return (sum(scores.values()) / len(ids) if ids else 0.0), scores


def bleu(predictions: dict, references: dict, n: int = 4) -> list[float]:
    """Corpus BLEU-1 … BLEU-n as coco-caption's BleuScorer ("closest" reference length)."""
    tiny, small = 1e-15, 1e-9
    correct, guess, test_len, ref_len = [0] * n, [0] * n, 0, 0
    for i, refs in references.items():
        hyp = caption_tokens(predictions.get(i, ""))
        ref_tokens = [caption_tokens(r) for r in refs]
        max_counts = collections.Counter()
        for r in ref_tokens:
            max_counts |= _ngrams(r, n)
        for gram, count in _ngrams(hyp, n).items():
            correct[len(gram) - 1] += min(count, max_counts[gram])
        for k in range(n):
            guess[k] += max(0, len(hyp) - k)
        test_len += len(hyp)
        ref_len += min((len(r) for r in ref_tokens), key=lambda x: (abs(x - len(hyp)), x))
    scores, product = [], 1.0
    for k in range(n):
        product *= (correct[k] + tiny) / (guess[k] + small)
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (test_len + tiny) / (ref_len + small)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def captioning(predictions: dict, references: dict) -> dict:
    cider, _ = cider_d(predictions, references)
    return {"metric": "cider", "value": cider, "bleu4": bleu(predictions, references)[3],
            "examples": len(references)}


# --- VQA ----------------------------------------------------------------------------------

# The VQA evaluation's normalisation (vqaEval.py): punctuation, number words, articles.
_PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@",
          "`", ",", "?", "!"]
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_IN_NUMBER = re.compile(r"(\d)(,)(\d)")
_NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
            "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = {"a", "an", "the"}


def normalize_answer(text: str) -> str:
    text = text.replace("\n", " ").replace("\t", " ").strip().lower()
    for p in _PUNCT:
        if f"{p} " in text or f" {p}" in text or _COMMA_IN_NUMBER.search(text):
            text = text.replace(p, "")
        else:
            text = text.replace(p, " ")
    text = _PERIOD.sub("", text)
    words = [_NUMBERS.get(w, w) for w in text.split()]
    return " ".join(w for w in words if w not in _ARTICLES)


def vqa_score(prediction: str, references: list[str]) -> float:
    """min(#references matching / 3, 1), VQA's rule for ten answers per question. With fewer
    than three references the divisor is their number (one reference: a normalised exact
    match), so a single-answer dataset can still score 1."""
    answer = normalize_answer(prediction)
    matches = sum(normalize_answer(r) == answer for r in references)
    return min(matches / min(3, len(references)), 1.0)


def vqa(predictions: dict, references: dict) -> dict:
    scores = [vqa_score(predictions.get(i, ""), refs) for i, refs in references.items()]
    return {"metric": "vqa_accuracy", "value": _mean(scores), "examples": len(scores)}


# --- exact match and CER ------------------------------------------------------------------

def _squash(text: str) -> str:
    return " ".join(text.split())


def exact(predictions: dict, references: dict) -> dict:
    """Exact match against any reference; CER against the closest: edit distance summed over
    the examples, divided by those references' characters."""
    hits, errors, chars = 0, 0, 0
    for i, refs in references.items():
        pred = _squash(predictions.get(i, ""))
        refs = [_squash(r) for r in refs]
        hits += pred in refs
        best = min(refs, key=lambda r: (edit_distance(pred, r) / max(1, len(r)), len(r)))
        errors, chars = errors + edit_distance(pred, best), chars + len(best)
    return {"metric": "exact_match", "value": hits / max(1, len(references)),
            "cer": errors / max(1, chars), "examples": len(references)}


# --- detection ----------------------------------------------------------------------------

_DETECTION = re.compile(r"((?:<loc\d{4}>){4})\s*([^;<]*)")
IOU_THRESHOLD = 0.5


def parse_boxes(text: str) -> list[tuple[str, tuple[float, ...]]]:
    """``<locYMIN><locXMIN><locYMAX><locXMAX> label ; …`` → [(label, (ymin, xmin, ymax, xmax))]
    as fractions of the image; anything that is not four location tokens and a label is
    skipped."""
    out = []
    for locs, label in _DETECTION.findall(text):
        values = [int(v) / (LOC_BINS - 1) for v in re.findall(r"\d{4}", locs)]
        if label.strip():
            out.append((label.strip(), tuple(values)))
    return out


def iou(a, b) -> float:
    (ay0, ax0, ay1, ax1), (by0, bx0, by1, bx1) = a, b
    inter = max(0.0, min(ay1, by1) - max(ay0, by0)) * max(0.0, min(ax1, bx1) - max(ax0, bx0))
    union = (ay1 - ay0) * (ax1 - ax0) + (by1 - by0) * (bx1 - bx0) - inter
    return inter / union if union > 0 else 0.0


def _matched(predicted: list, expected: list) -> int:
    """True positives of one label in one image: pairs taken greedily by IoU, highest first,
    each box used once, IoU ≥ 0.5."""
    pairs = sorted(((iou(p, e), i, j) for i, p in enumerate(predicted)
                    for j, e in enumerate(expected)), reverse=True)
    used_p, used_e, hits = set(), set(), 0
    for value, i, j in pairs:
        if value >= IOU_THRESHOLD and i not in used_p and j not in used_e:
            used_p.add(i)
            used_e.add(j)
            hits += 1
    return hits


def _prf(tp: int, n_pred: int, n_ref: int) -> dict:
    precision = tp / n_pred if n_pred else float(n_ref == 0)
    recall = tp / n_ref if n_ref else float(n_pred == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp,
            "predicted": n_pred, "expected": n_ref}


def detection(predictions: dict, references: dict) -> dict:
    """Box F1 over every image's references (each reference text a list of boxes; the first)."""
    counts = collections.defaultdict(lambda: [0, 0, 0])  # label → tp, predicted, expected
    for i, refs in references.items():
        predicted, expected = parse_boxes(predictions.get(i, "")), parse_boxes(refs[0])
        for label in {lab for lab, _ in predicted + expected}:
            p = [box for lab, box in predicted if lab == label]
            e = [box for lab, box in expected if lab == label]
            c = counts[label]
            c[0], c[1], c[2] = c[0] + _matched(p, e), c[1] + len(p), c[2] + len(e)
    per_label = {label: _prf(*c) for label, c in sorted(counts.items())}
    overall = _prf(*(sum(c[k] for c in counts.values()) for k in range(3)))
    return {"metric": "box_f1", "value": overall["f1"], "precision": overall["precision"],
            "recall": overall["recall"], "per_label": per_label, "examples": len(references)}


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


EVALUATORS = {"captioning": captioning, "vqa": vqa, "exact": exact, "detection": detection}
# The evaluator of each mixture task (pipelines/mixture/tasks); a task not named is scored by
# exact match.
TASK_EVALUATOR = {"captioning": "captioning", "vqg": "captioning", "vqa": "vqa",
                  "object_aware_vqa": "vqa", "detection": "detection", "ocr": "exact",
                  "split_captioning": "exact", "span_corruption": "exact"}


def evaluate(kind: str, predictions: dict, references: dict) -> dict:
    if kind not in EVALUATORS:
        raise KeyError(f"no evaluator {kind!r} (have {sorted(EVALUATORS)})")
    missing = [i for i, refs in references.items() if not refs]
    if missing:
        raise ValueError(f"{len(missing)} ids have no references, e.g. {missing[0]!r}")
    return EVALUATORS[kind](predictions, references)
