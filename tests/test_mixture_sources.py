"""Mixture sources beside the corpus (COCO-format datasets) and the detection task, on real COCO
annotations."""
import json

import pytest

from pipelines.mixture.sources import coco_box, read_coco
from pipelines.mixture.tasks import TASKS, NotApplicable, loc_token, task_rng
from schemas import BoxedObject, LabelledImage, Rejection


@pytest.fixture(scope="module")
def coco(test_data):
    folder = test_data / "captions" / "coco-mini-val2017"
    files = [folder / "instances_val2017.json", folder / "captions_val2017.json"]
    return {r.image_id: r for r in read_coco(files, folder / "images")}


@pytest.mark.parametrize("fraction,token", [
    (0.0, "<loc0000>"), (1.0, "<loc1023>"), (0.5, "<loc0512>"),  # 511.5 rounds to even
    (-0.2, "<loc0000>"), (1.7, "<loc1023>"), (100 / 1023, "<loc0100>"), (0.2489, "<loc0255>"),
])
def test_loc_tokens(fraction, token):
    assert loc_token(fraction) == token


def test_coco_box_is_ymin_xmin_ymax_xmax_fractions_clipped():
    assert coco_box([10, 20, 30, 40], width=100, height=200) == [0.1, 0.1, 0.3, 0.4]
    assert coco_box([-5, 190, 30, 40], width=100, height=200) == [0.95, 0.0, 1.0, 0.25]


def test_the_set_as_its_readme_describes_it(coco, test_data):
    """79 photos, 5 captions each, 624 boxes of which 5 are crowd regions (counted in the
    JSON here, apart from the reader)."""
    raw = json.loads((test_data / "captions" / "coco-mini-val2017" / "instances_val2017.json")
                     .read_text())
    crowd = sum(a["iscrowd"] for a in raw["annotations"])
    assert (len(raw["annotations"]), crowd) == (624, 5)
    assert len(coco) == 79 and all(isinstance(r, LabelledImage) for r in coco.values())
    assert sorted({len(r.captions) for r in coco.values()}) == [5]
    assert sum(len(r.objects) for r in coco.values()) == 624 - crowd


def test_golden_detection_example_from_real_coco_boxes(coco):
    """Image 377575 (426 x 640): a dog at [58.42, 159.35, 221.99, 463.45] and a fire hydrant at
    [234.43, 194.16, 93.48, 287.64] (COCO x, y, w, h). By hand, v x 1023 rounded:
    dog ymin 159.35/640 → 254.71, xmin 58.42/426 → 140.29, ymax 622.80/640 → 995.51,
    xmax 280.41/426 → 673.38; hydrant 310.35, 562.96, 770.13, 787.45."""
    image = coco["377575"]
    assert (image.width, image.height) == (426, 640)
    (example,) = TASKS.get("detection")(image, task_rng("detection", image.image_id))
    assert example.prefix == "detect dog ; fire hydrant"
    assert example.target == ("<loc0255><loc0140><loc0996><loc0673> dog ; "
                              "<loc0310><loc0563><loc0770><loc0787> fire hydrant")
    assert (example.task, example.source_id, example.lang) == ("detection", "377575", "en")
    assert example.image == image.image and example.image[:2] == b"\xff\xd8"  # the JPEG itself


def test_detection_orders_labels_and_boxes():
    objects = [BoxedObject(label="dog", box=[0.5, 0.5, 0.9, 0.9]),
               BoxedObject(label="cat", box=[0.1, 0.2, 0.3, 0.4]),
               BoxedObject(label="dog", box=[0.1, 0.6, 0.2, 0.7])]
    image = LabelledImage(image_id="x", image=b"jpeg", width=10, height=10, captions=[],
                          objects=objects)
    (example,) = TASKS.get("detection")(image, task_rng("detection", "x"))
    assert example.prefix == "detect cat ; dog"
    assert example.target == ("<loc0102><loc0205><loc0307><loc0409> cat ; "
                              "<loc0102><loc0614><loc0205><loc0716> dog ; "
                              "<loc0512><loc0512><loc0921><loc0921> dog")
    empty = LabelledImage(image_id="y", image=b"", width=1, height=1, captions=["a"], objects=[])
    assert TASKS.get("detection")(empty, task_rng("detection", "y")) == NotApplicable("no_objects")


def test_missing_image_file_is_a_rejection_and_a_bad_file_an_error(tmp_path):
    annotations = tmp_path / "a.json"
    annotations.write_text(json.dumps({"images": [
        {"id": 1, "file_name": "here.jpg", "width": 4, "height": 2},
        {"id": 2, "file_name": "gone.jpg", "width": 4, "height": 2}]}))
    (tmp_path / "here.jpg").write_bytes(b"\xff\xd8 jpeg")
    out = list(read_coco([annotations], tmp_path))
    assert out[0] == LabelledImage(image_id="1", image=b"\xff\xd8 jpeg", width=4, height=2,
                                   captions=[], objects=[])
    assert out[1] == Rejection(stage="source", reason="image_missing", record_id="2",
                               url=str(tmp_path / "gone.jpg"))
    (tmp_path / "b.json").write_text('{"annotations": []}')
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        list(read_coco([tmp_path / "b.json"], tmp_path))
