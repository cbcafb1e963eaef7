"""Evaluators: CIDEr-D and BLEU against pycocoevalcap on real COCO captions; VQA accuracy,
exact match, CER and box F1 on hand-worked tables."""
import json
import math

import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from model import metrics
from model.metrics import (bleu, caption_tokens, cider_d, detection, evaluate, exact,
                           normalize_answer, parse_boxes, vqa_score)


@pytest.fixture(scope="module")
def coco(test_data):
    """COCO val2017 captions by image: the first caption is the "prediction" (of that image and,
    shifted by one, of the next image: a wrong one), the other four the references."""
    data = json.loads((test_data / "captions/coco-mini-val2017/captions_val2017.json").read_text())
    by_image = {}
    for row in data["annotations"]:
        by_image.setdefault(str(row["image_id"]), []).append(row["caption"])
    ids = sorted(by_image)
    references = {i: by_image[i][1:] for i in ids}
    right = {i: by_image[i][0] for i in ids}
    wrong = {i: by_image[ids[(k + 1) % len(ids)]][0] for k, i in enumerate(ids)}
    return references, right, wrong


def _tokenised(d):
    return {k: [" ".join(caption_tokens(x)) for x in (v if isinstance(v, list) else [v])]
            for k, v in d.items()}


@pytest.mark.parametrize("which", ["right", "wrong"])
def test_cider_d_and_bleu_equal_pycocoevalcap(coco, which):
    """pycocoevalcap is given our tokens (its PTBTokenizer needs Java); the scoring is its."""
    references, right, wrong = coco
    predictions = right if which == "right" else wrong
    assert len(references) == 79
    ours, per_image = cider_d(predictions, references)
    theirs, their_per_image = Cider().compute_score(_tokenised(references), _tokenised(predictions))
    assert ours == pytest.approx(theirs, rel=1e-9)
    assert [per_image[i] for i in sorted(references)] == pytest.approx(list(their_per_image))
    their_bleu, _ = Bleu(4).compute_score(_tokenised(references), _tokenised(predictions),
                                          verbose=0)
    assert bleu(predictions, references) == pytest.approx(their_bleu, rel=1e-9)
    # A human caption of the right photo scores far above one of another photo.
    assert (ours > 0.5) if which == "right" else (ours < 0.1)


def test_cider_d_hand_worked():
    """Two images, one reference each, the prediction equal to its reference: every n-gram of
    image 1 ("a b") appears in one of the two documents, so idf = log 2 for all; cosine 1 for
    n = 1, 2, and 0 (no n-grams) for n = 3, 4: (1 + 1 + 0 + 0) / 4 × 10 = 5."""
    score, per_image = cider_d({"1": "a b", "2": "c d"}, {"1": ["a b"], "2": ["c d"]})
    assert per_image == {"1": pytest.approx(5.0), "2": pytest.approx(5.0)} and score == 5.0
    # "a b b" against "a b": the unigram b's tf-idf 2 log 2 is clipped to the reference's
    # log 2, so n = 1 gives 2 / (√5 √2); n = 2 gives 1 / (√2 · 1); one bigram too many (δ = 1)
    # multiplies by e^(−1/72).
    _, per = cider_d({"1": "a b b", "2": "c d"}, {"1": ["a b"], "2": ["c d"]})
    expected = (2 / math.sqrt(10) + 1 / math.sqrt(2)) / 4 * 10 * math.exp(-1 / 72)
    assert per["1"] == pytest.approx(expected)


@pytest.mark.parametrize("text, tokens", [
    ("A man's dog doesn't run.", ["a", "man", "'s", "dog", "does", "n't", "run"]),
    ("Two t-shirts, (red) and blue...", ["two", "t-shirts", "red", "and", "blue"]),
    ("红色背景上的蓝色圆形", list("红色背景上的蓝色圆形")),
    ("un carré rouge sur fond blanc", ["un", "carré", "rouge", "sur", "fond", "blanc"]),
])
def test_caption_tokens(text, tokens):
    assert caption_tokens(text) == tokens


@pytest.mark.parametrize("text, normal", [
    ("Two dogs.", "2 dogs"), ("the Yes!", "yes"), ("1,000", "1000"), ("3.5", "3.5"),
    ("a red-and-white bus", "red and white bus"), ("None", "0"), ("  Ten\t", "10"),
])
def test_normalize_answer(text, normal):
    assert normalize_answer(text) == normal


@pytest.mark.parametrize("prediction, references, score", [
    ("two", ["2"] * 3 + ["3"] * 7, 1.0),  # 3 of 10 agree: min(3/3, 1)
    ("2", ["2"] * 2 + ["3"] * 8, 2 / 3),
    ("2", ["2"] + ["3"] * 9, 1 / 3),
    ("4", ["2"] * 10, 0.0),
    ("Yes.", ["yes"], 1.0),  # one reference: a normalised exact match
    ("yes", ["yes", "no"], 0.5),
])
def test_vqa_score(prediction, references, score):
    assert vqa_score(prediction, references) == pytest.approx(score)


def test_exact_match_and_cer():
    refs = {"a": ["OPEN"], "b": ["HOTEL"], "c": ["red circle", "circle"]}
    result = exact({"a": "OPEN", "b": "HOTE", "c": " red  circle "}, refs)
    # b: one deletion of 5 characters; a and c exact: CER = 1 / (4 + 5 + 10)
    assert result == {"metric": "exact_match", "value": 2 / 3, "cer": 1 / 19, "examples": 3}
    assert exact({}, refs)["value"] == 0.0  # a missing prediction counts as wrong


def _box(y0, x0, y1, x1):
    return "".join(f"<loc{v:04d}>" for v in (y0, x0, y1, x1))


def test_parse_boxes():
    text = f"{_box(0, 100, 511, 1023)} red circle ; <loc0001><loc0002> bad ; {_box(10, 20, 30, 40)} sq"
    assert parse_boxes(text) == [("red circle", (0.0, 100 / 1023, 511 / 1023, 1.0)),
                                 ("sq", (10 / 1023, 20 / 1023, 30 / 1023, 40 / 1023))]


def test_detection_precision_recall_f1():
    """Image 1: the circle found (IoU 0.81), the square's box half off (IoU 1/3 < 0.5), an extra
    triangle. Image 2: the square exact, a second square missed."""
    refs = {"1": [f"{_box(0, 0, 100, 100)} circle ; {_box(500, 500, 600, 600)} square"],
            "2": [f"{_box(0, 0, 200, 200)} square ; {_box(300, 300, 400, 400)} square"]}
    preds = {"1": f"{_box(0, 0, 90, 90)} circle ; {_box(500, 550, 600, 650)} square ; "
                  f"{_box(0, 0, 50, 50)} triangle",
             "2": f"{_box(0, 0, 200, 200)} square"}
    result = detection(preds, refs)
    assert result["per_label"]["circle"]["f1"] == 1.0
    assert result["per_label"]["square"] == {"precision": 0.5, "recall": 1 / 3, "f1": 0.4,
                                             "true_positives": 1, "predicted": 2, "expected": 3}
    assert result["per_label"]["triangle"]["precision"] == 0.0
    # overall: 2 of 4 predicted boxes right, 2 of 4 expected found
    assert (result["precision"], result["recall"], result["value"]) == (0.5, 0.5, 0.5)


def test_iou():
    assert metrics.iou((0, 0, 0.9, 0.9), (0, 0, 1, 1)) == pytest.approx(0.81)
    assert metrics.iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_evaluate_refuses_unknown_and_empty():
    with pytest.raises(KeyError, match="no evaluator 'bleu'"):
        evaluate("bleu", {}, {})
    with pytest.raises(ValueError, match="no references"):
        evaluate("exact", {"a": "x"}, {"a": []})
