"""``openwebli train-scorer`` on real pairs, with CLIP's loss and with LiT; the pair sources
and the retrieval metric."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from pipelines.cli import main
from pipelines.score.pairs import load_pairs, split_held_out
from pipelines.score.train_scorer import recall_at
from tests.test_safety_stage import _jpeg, _pair, _write_folder

COCO = "captions/coco-mini-val2017/captions_val2017.json"


def test_recall_at_counts_any_matching_column():
    similarity = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.4, 0.6, 0.1]])
    match = np.array([[False, True, False], [False, False, True], [True, False, True]])
    # Row 0's best is column 0 (no match), its match is 3rd; row 1's best matches; row 2's
    # matches are its 2nd and 3rd.
    assert recall_at(similarity, match, ks=(1, 2, 3)) == {"R@1": 0.3333, "R@2": 0.6667,
                                                          "R@3": 1.0}


def test_pair_sources(test_data, tmp_path):
    coco = load_pairs(str(test_data / COCO))
    annotations = json.loads((test_data / COCO).read_text())
    assert len(coco) == len(annotations["annotations"])
    assert len({e.content for e in coco}) == len(annotations["images"]) == 79
    train, held = split_held_out(coco)
    assert len({e.content for e in held}) == 8  # a tenth of 79 images, rounded
    assert not {e.content for e in train} & {e.content for e in held}
    folder = tmp_path / "captions"
    (folder / "00000").mkdir(parents=True)
    for i in range(5):
        (folder / "00000" / f"{i:03d}.jpg").write_bytes(_jpeg((40 * i, 80, 120)))
        (folder / "00000" / f"{i:03d}.txt").write_text(f"colour number  {i}\n")
    (folder / "00000" / "005.jpg").write_bytes(_jpeg())  # no caption: not a pair
    pairs = load_pairs(str(folder))
    assert [(e.content, e.caption) for e in pairs] == [
        (f"00000/{i:03d}.jpg", f"colour number {i}") for i in range(5)]
    corpus = tmp_path / "corpus"
    _write_folder(corpus, [_pair(i, image_bytes=_jpeg((50 * i, 0, 0))) for i in range(4)])
    assert sorted(e.caption for e in load_pairs(str(corpus))) == ["a blue square"] * 4
    with pytest.raises(FileNotFoundError, match="not a corpus folder"):
        load_pairs(str(tmp_path / "nothing"))


@pytest.mark.slow  # trains the scorer a few steps
def test_train_scorer_on_coco_reports_auc_and_recall(test_data, tmp_path, capsys):
    assert main(["train-scorer", "--pairs", str(test_data / COCO), "--output", str(tmp_path),
                 "--steps", "3", "--batch-size", "16", "--json"]) == 0
    held = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert held["retrieval"]["images"] == 8 and held["pairs"] == held["retrieval"]["captions"]
    assert set(held["retrieval"]["image_to_text"]) == {"R@1", "R@5"}
    assert 0.0 <= held["auc"] <= 1.0
    report = json.loads((tmp_path / "scorer.json").read_text())
    assert report["pairs"] == str(test_data / COCO) and report["batch_size"] == 16


@pytest.mark.slow
def test_clip_loss_and_lit(tmp_path):
    import torch

    from pipelines.score.train_scorer import train_scorer

    quiet = lambda _: None
    first = train_scorer(tmp_path / "clip", steps=2, batch_size=8, pool_size=64, held_out=60,
                         loss="clip", log=quiet)
    assert (first["loss"], first["score_kind"]) == ("CLIP (softmax)", "cosine")
    checkpoint = tmp_path / "clip" / "scorer.pt"
    lit = train_scorer(tmp_path / "lit", steps=3, batch_size=8, pool_size=64, held_out=60,
                       lit=str(checkpoint), log=quiet)
    assert lit["lit"] == str(checkpoint)
    before = torch.load(checkpoint, weights_only=True)
    after = torch.load(tmp_path / "lit" / "scorer.pt", weights_only=True)
    visual = [k for k in before if k.startswith("visual.")]
    text = [k for k in before if k.startswith("transformer.")]
    assert all(torch.equal(before[k], after[k]) for k in visual)  # locked
    assert any(not torch.equal(before[k], after[k]) for k in text)  # trained
