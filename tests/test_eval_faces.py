"""Face detection measured against faces derived from COCO person keypoints."""
import pytest

from pipelines.safety.eval_faces import evaluate, score_image


def _person(nose, left_eye, right_eye):
    """A COCO keypoint list: nose, eyes as (x, y, visibility), the other 14 unlabelled."""
    return [*nose, *left_eye, *right_eye] + [0, 0, 0] * 14


def test_score_image_counts_faces_found_and_right_detections():
    people = [_person((50, 50, 2), (45, 45, 2), (55, 45, 2)),  # a face to find
              _person((200, 80, 1), (0, 0, 0), (0, 0, 0)),  # a labelled, hidden nose: no face
              _person((0, 0, 0), (0, 0, 0), (0, 0, 0))]  # no head keypoints at all
    boxes = [(40, 40, 20, 20), (190, 70, 20, 20), (300, 300, 10, 10)]
    assert score_image(boxes, people) == {"faces": 1, "found": 1, "detections": 3, "correct": 2}
    # At half scale the same boxes miss the scaled-down nose of the first person.
    assert score_image(boxes, people, scale=0.5)["found"] == 0


@pytest.mark.slow  # 79 photos through the cascade, ~10 s
def test_recall_and_precision_on_coco_photos(test_data):
    """The figures in docs/safety.md, exactly (OpenCV pinned): at the stored 384 px and at
    the photos' own size."""
    data = test_data / "captions" / "coco-mini-val2017"
    stored = evaluate(data, size=384)
    assert {k: stored[k] for k in ("images", "faces", "found", "detections", "correct")} == {
        "images": 79, "faces": 26, "found": 7, "detections": 43, "correct": 8}
    full = evaluate(data, size=0)
    assert (full["found"], full["detections"], full["correct"]) == (11, 42, 12)
