"""``openwebli eval``'s plumbing without a model: examples grouped into questions, a split
scored by each task's evaluator, predictions files scored by ``openwebli metrics``."""
import json

import pytest

from model.evaluate import evaluate_folder, questions, score_files
from pipelines.cli import main
from schemas import TaskExample
from tests.test_model_data import jpeg, write_mixture


def _row(key, prefix, target, sid):
    return {"image_key": key, "prefix": prefix, "target": target, "source_id": sid}


def test_questions_group_references_by_image_and_prompt():
    rows = [_row("k1", "q?", "dog", "a"), _row("k1", "q?", "a dog", "a"),
            _row("k1", "other?", "red", "a"), _row("k2", "q?", "cat", "b")]
    assert questions(rows) == [
        {"id": "a", "image_key": "k1", "prompt": "q?", "references": ["dog", "a dog"]},
        {"id": "a#2", "image_key": "k1", "prompt": "other?", "references": ["red"]},
        {"id": "b", "image_key": "k2", "prompt": "q?", "references": ["cat"]}]


class _Lookup:
    """A stand-in model beside the real one (tests/test_model_train.py): answers each prompt
    from a table, and records what it was asked."""

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def predict_batch(self, images, prompts, decoding=None):
        self.asked += list(zip(images, prompts))
        return [{"prediction": self.answers.get(p, ""), "score": 0.0} for p in prompts]


def _examples():
    from PIL import Image

    red, blue = (jpeg(Image.new("RGB", (32, 32), c)) for c in ("red", "blue"))
    ex = lambda task, image, prefix, target, sid: TaskExample(task=task, image=image,
                                                             prefix=prefix, target=target,
                                                             lang="en", source_id=sid)
    return [ex("ocr", red, "ocr red", "OPEN", "r"), ex("ocr", blue, "ocr blue", "SALE", "b"),
            ex("vqa", red, "what colour?", "red", "rq"), ex("vqa", red, "what colour?", "rouge", "rq"),
            ex("vqa", blue, "what colour?!", "blue", "bq")]


def test_a_split_is_scored_by_each_tasks_evaluator(tmp_path):
    data = write_mixture(tmp_path, _examples()[:1], validation=_examples())
    model = _Lookup({"ocr red": "OPEN", "ocr blue": "SALT", "what colour?": "Red.",
                     "what colour?!": "green"})
    result = evaluate_folder(model, data, "validation", predictions_dir=str(tmp_path / "p"))
    assert result["ocr"] == {"evaluator": "exact", "metric": "exact_match", "value": 0.5,
                             "cer": 1 / 8, "examples": 2}
    # "Red." normalises to "red": 1 of its 2 references → min(1 / 2, 1); "green": 0
    assert result["vqa"]["value"] == pytest.approx(0.25) and result["vqa"]["examples"] == 2
    assert len(model.asked) == 4  # the two rows of one question were asked once
    assert evaluate_folder(model, data, "validation", tasks=["ocr"], limit=1)["ocr"][
        "examples"] == 1
    with pytest.raises(KeyError, match="no tasks \\['caption'\\]"):
        evaluate_folder(model, data, "validation", tasks=["caption"])
    refs = (tmp_path / "p" / "vqa.references.jsonl").read_text().splitlines()
    assert json.loads(refs[0]) == {"id": "rq", "references": ["red", "rouge"]}


def test_score_files_counts_what_does_not_match(tmp_path, capsys):
    preds, refs = tmp_path / "p.jsonl", tmp_path / "r.jsonl"
    preds.write_text('{"id": 1, "prediction": "OPEN"}\n{"id": 9, "prediction": "x"}\n\n')
    refs.write_text('{"id": "1", "references": ["OPEN"]}\n{"id": "2", "references": "SALE"}\n')
    result = score_files("exact", str(preds), str(refs))
    assert (result["value"], result["missing_predictions"], result["unmatched_predictions"]) == (
        0.5, 1, 1)
    assert main(["metrics", "--task", "exact", "--predictions", str(preds), "--references",
                 str(refs)]) == 0
    assert capsys.readouterr().out.startswith("exact_match 0.5000 over 2 examples, cer ")
    refs.write_text('{"id": "1", "refs": ["OPEN"]}\n')
    assert main(["metrics", "--task", "exact", "--predictions", str(preds), "--references",
                 str(refs)]) == 2
    assert f'{refs}:1: expected a JSON object with "id" and "references"' in capsys.readouterr().err
