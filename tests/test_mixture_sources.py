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


# --- The sample site's own annotations: what the generator knows of the pictures it drew ---

def _colour_at(image_bytes: bytes, x: float, y: float) -> str:
    """The name of the palette colour nearest the pixel at (x, y)."""
    import io

    from PIL import Image

    from pipelines.synthetic import COLORS

    pixel = Image.open(io.BytesIO(image_bytes)).convert("RGB").getpixel((int(x), int(y)))
    return min(COLORS, key=lambda c: sum((a - b) ** 2 for a, b in zip(COLORS[c], pixel)))


@pytest.fixture(scope="module")
def site_annotations(tmp_path_factory):
    from pipelines.sample_site import SiteSpec, generate_site

    root, folder = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("annotations")
    counts = generate_site(root, SiteSpec(gallery_pages=6, sign_pages=2, images_per_page=3),
                           eval_dir=tmp_path_factory.mktemp("eval"), annotations_dir=folder)
    return root, folder, counts


def test_site_boxes_are_where_the_shapes_were_drawn(site_annotations):
    """At each shape box's centre the image shows the colour the VQA line says the shape is;
    just above and just left of the box (the shadow falls right and down), and at the image's
    corner furthest from it, the background's colour (nearest palette colour, read from the
    pixels here). Points a sign box covers, or outside the image, are skipped."""
    from pipelines.mixture.sources import read_vqa

    root, folder, counts = site_annotations
    files = {str(im["id"]): im["file_name"]
             for im in json.loads((folder / "instances.json").read_text())["images"]}
    images = {files[r.image_id]: r for r in read_coco([folder / "instances.json"], root)}
    answers = {(t.image_id, t.question): t.answer for t in read_vqa([folder / "vqa.jsonl"], root)}
    # 6 pages x 3 scenes + 2 x 3 signs, less the evaluation set's source, g02-2
    assert counts["annotated_images"] == len(images) == 6 * 3 + 2 * 3 - 1
    assert "img/g02-2.jpg" not in images and "img/g02-1.jpg" in images
    checked = 0
    for name, image in images.items():
        shapes = [o for o in image.objects if o.label != "sign"]
        signs = [o.box for o in image.objects if o.label == "sign"]
        if not shapes:
            assert answers[(name, "What does the sign say?")].isupper()  # a sign page's word
            continue
        (shape,) = shapes
        ymin, xmin, ymax, xmax = shape.box
        cy = (ymin + ymax) / 2 if shape.label != "triangle" else ymin + 0.45 * (ymax - ymin)
        cx = (xmin + xmax) / 2
        corner = (0.98 if cx < 0.5 else 0.02, 0.98 if cy < 0.5 else 0.02)
        gap_y, gap_x = 0.08 * (ymax - ymin), 0.08 * (xmax - xmin)
        outside = [corner, (cx, ymin - gap_y), (xmin - gap_x, cy)]
        covered = lambda p: any(b[0] <= p[1] <= b[2] and b[1] <= p[0] <= b[3] for b in signs)
        if covered((cx, cy)):
            continue
        w, h = image.width, image.height
        assert _colour_at(image.image, cx * w, cy * h) == answers[
            (name, f"What colour is the {shape.label}?")]
        for x, y in outside:
            if 0 <= x < 1 and 0 <= y < 1 and not covered((x, y)):
                assert _colour_at(image.image, x * w, y * h) == answers[
                    (name, "What colour is the background?")], (name, x, y)
                checked += 1
        assert answers[(name, "What shape is in the image?")] == shape.label
    assert checked >= 30


def test_site_texts_and_categories(site_annotations):
    from pipelines.mixture.sources import coco_labels, read_texts

    root, folder, counts = site_annotations
    assert coco_labels([folder / "instances.json"]) == (
        "circle", "diamond", "sign", "square", "triangle")
    texts = list(read_texts([folder / "texts.jsonl"]))
    assert len(texts) == counts["pages"] and texts[0].url == "/gallery/00.html"
    assert texts[0].text.startswith("Gallery 0 ")


def _openimages(tmp_path, rows, header="ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsGroupOf"):
    from PIL import Image

    (tmp_path / "boxes.csv").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "labels.csv").write_text("/m/0bt9lr,Dog\n/m/01yrx,Cat\n")  # no header, as OI's
    Image.new("RGB", (40, 30)).save(tmp_path / "a1.jpg")
    return [tmp_path / "boxes.csv"], tmp_path / "labels.csv"


def test_open_images_boxes_labels_and_group_boxes(tmp_path):
    from pipelines.mixture.sources import read_label_map, read_openimages

    boxes, labels = _openimages(tmp_path, [
        "a1,xclick,/m/0bt9lr,1,0.1,0.5,0.2,0.9,0",
        "a1,xclick,/m/01yrx,1,0.0,1.0,0.0,1.0,1",  # a group box: left out, as crowd regions are
        "b2,xclick,/m/01yrx,1,0.1,0.2,0.3,0.4,0"])  # no b2.jpg
    assert read_label_map(labels) == {"/m/0bt9lr": "Dog", "/m/01yrx": "Cat"}
    first, second = read_openimages(boxes, labels, tmp_path)
    assert first == LabelledImage(image_id="a1", image=(tmp_path / "a1.jpg").read_bytes(),
                                  width=40, height=30, captions=[],
                                  objects=[BoxedObject(label="Dog", box=[0.2, 0.1, 0.9, 0.5])])
    assert second == Rejection(stage="source", reason="image_missing", record_id="b2",
                               url=str(tmp_path / "b2.jpg"))


@pytest.mark.parametrize("rows,header,error", [
    (["a1,/m/0bt9lr,0.1,0.5,0.2"], "ImageID,LabelName,XMin,XMax,YMin",
     r"not an Open Images box CSV \(no \['YMax'\]\)"),
    (["a1,xclick,/m/999,1,0.1,0.5,0.2,0.9,0"], None, "label '/m/999' is not in the label map"),
])
def test_open_images_errors(tmp_path, rows, header, error):
    from pipelines.mixture.sources import read_openimages

    args = (tmp_path, rows) if header is None else (tmp_path, rows, header)
    boxes, labels = _openimages(*args)
    with pytest.raises(ValueError, match=error):
        list(read_openimages(boxes, labels, tmp_path))


def test_text_files_and_jsonl(tmp_path):
    from schemas import PageText

    from pipelines.mixture.sources import read_texts

    (tmp_path / "a.txt").write_text("first  document\nstill first\n\n\nsecond one\n")
    (tmp_path / "b.jsonl").write_text('{"text": "one", "id": "doc-1"}\n\n[1, 2]\n{"text": "two"}\n')
    assert list(read_texts([tmp_path / "a.txt", tmp_path / "b.jsonl"])) == [
        PageText(url=f"{tmp_path / 'a.txt'}#0", text="first document still first"),
        PageText(url=f"{tmp_path / 'a.txt'}#1", text="second one"),
        PageText(url="doc-1", text="one"),
        Rejection(stage="source", reason="bad_text_line", record_id=f"{tmp_path / 'b.jsonl'}:3",
                  url=str(tmp_path / "b.jsonl")),
        PageText(url=f"{tmp_path / 'b.jsonl'}#4", text="two")]
