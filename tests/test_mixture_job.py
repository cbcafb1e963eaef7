"""The mixture job on four sources at once (a corpus folder with page texts, the real COCO-mini
annotations, VQA lines pointing into COCO's images, a text file): the folder per task and
split, the accounting, the split by image, the image store, byte-identical reruns, the
read-side sampler and Hugging Face ``datasets`` over the Parquet folders."""
import collections
import glob
import hashlib
import json
import os

import pytest

from pipelines.corpus_io import WriteRecords, mark_completed, read_json, read_records
from pipelines.mixture.job import run_mixture_job
from pipelines.mixture.layout import image_key
from pipelines.mixture.reader import MixtureFolder
from pipelines.mixture.spec import MixtureSpec
from schemas import CorpusPair, PageText, Rejection
from tests.test_mixture import _pair

TASK_RATES = {"captioning": 2.0, "split_captioning": 1.0, "ocr": 1.0, "span_corruption": 0.5,
              "vqa": 1.0, "vqg": 0.5, "object_aware_vqa": 0.5, "detection": 0.5}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, test_data):
    import apache_beam as beam

    root = tmp_path_factory.mktemp("sources")
    corpus = root / "corpus"
    pairs = [_pair(f"p{i}", ocr="SALE" if i % 2 else "", green=20 * i) for i in range(10)]
    pairs.append(_pair("und", lang="und", green=250))  # no task applies to it
    texts = [PageText(url="http://site.test/long", text="many words " * 20),
             PageText(url="http://site.test/short", text="too short")]
    with beam.Pipeline() as p:
        p | "Pairs" >> beam.Create(pairs) | "W1" >> WriteRecords(str(corpus), CorpusPair)
        p | "Texts" >> beam.Create(texts) | "W2" >> WriteRecords(str(corpus / "texts"), PageText)
    mark_completed(str(corpus))
    coco = test_data / "captions" / "coco-mini-val2017"
    lines = [{"image": "000000377575.jpg", "question": "What animal is this?", "answer": "dog",
              "lang": "en"},
             {"image": "000000377575.jpg", "question": "What is red?", "answer": "the hydrant",
              "lang": "en"},
             {"image": "missing.jpg", "question": "q?", "answer": "a", "lang": "en"}]
    (root / "vqa.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\nnot json\n")
    spec = {"sources": {"web": {"kind": "corpus", "path": str(corpus)},
                        "coco": {"kind": "coco", "annotations": [str(coco / "instances_val2017.json")],
                                 "images": str(coco / "images")},
                        "qa": {"kind": "vqa", "path": str(root / "vqa.jsonl"),
                               "images": str(coco / "images")}},
            "tasks": {t: {"rate": r} for t, r in TASK_RATES.items()},
            "num_shards": 3, "validation_fraction": 0.2, "seed": 7}
    spec["tasks"]["span_corruption"]["source"] = "web"
    return spec, coco


@pytest.fixture(scope="module")
def built(inputs, tmp_path_factory):
    spec, _ = inputs
    out = str(tmp_path_factory.mktemp("mix") / "mixture")
    return out, run_mixture_job(MixtureSpec.from_dict(spec), out)


def _coco_images_with_objects(coco) -> tuple[int, int]:
    """(images with a non-crowd box, those boxes), counted in the JSON apart from the reader."""
    raw = json.loads((coco / "instances_val2017.json").read_text())
    boxes = [a for a in raw["annotations"] if not a["iscrowd"]]
    return len({a["image_id"] for a in boxes}), len(raw["images"])


def test_every_task_and_every_record_is_accounted_for(built, inputs):
    out, stats = built
    with_objects, coco_images = _coco_images_with_objects(inputs[1])
    assert {t: s["examples"] for t, s in stats["tasks"].items()} == {
        "captioning": 10, "split_captioning": 10, "ocr": 5, "span_corruption": 1, "vqa": 2,
        "vqg": 2, "detection": with_objects,
        # per image: the listing, a yes and a no, a two-label question, a count
        "object_aware_vqa": 5 * with_objects}
    assert stats["tasks"]["ocr"]["skipped"] == {"no_text_in_image": 6}
    assert stats["tasks"]["captioning"]["skipped"] == {"undetermined_language": 1}
    stages = stats["stages"]
    assert stages["source_qa_vqa"] == {"seen": 4, "kept": 2, "balanced": True, "rejected": {
        "bad_vqa_line": 1, "image_missing": 1}}
    assert stages["mixture_web_corpus"] == {"seen": 11, "kept": 10, "balanced": True,
                                            "rejected": {"no_task_applies": 1}}
    assert stages["mixture_web_text"]["rejected"] == {"no_task_applies": 1}  # the short text
    assert with_objects == coco_images == 79  # every COCO-mini photo has a box
    assert stages["mixture_coco_labelled_image"] == {"seen": 79, "kept": 79, "balanced": True,
                                                     "rejected": {}}
    reasons = collections.Counter(r.reason for r in read_records(f"{out}/rejects", Rejection))
    assert reasons == {"no_task_applies": 2, "bad_vqa_line": 1, "image_missing": 1}


def test_one_folder_per_task_and_split_described_by_info_json(built):
    out, stats = built
    mixture = MixtureFolder(out)
    info = read_json(out, "info.json")
    assert sorted(info["tasks"]) == sorted(TASK_RATES) and mixture.rates == TASK_RATES
    assert info["format"] == "arrayrecord" and info["splits"] == ["train", "validation"]
    for task, counts in stats["shards"].items():
        for split in ("train", "validation"):
            shards = sorted(os.listdir(f"{out}/{task}/{split}"))
            assert shards == [f"part-{k:05d}-of-00003.array_record" for k in range(3)]
            assert len(mixture.task_dataset(task, split)) == counts[split]
        assert sum(counts.values()) == stats["tasks"][task]["examples"]
        task_info = read_json(f"{out}/{task}", "info.json")
        assert (task_info["spec_hash"], task_info["examples"]) == (info["spec_hash"], counts)
    assert os.path.exists(f"{out}/COMPLETED")


def _all_rows(out):
    mixture = MixtureFolder(out)
    return [(split, row) for task in mixture.rates for split in ("train", "validation")
            for row in mixture.task_dataset(task, split)]


def test_the_split_is_by_image_and_each_image_is_stored_once(built):
    out, stats = built
    rows = _all_rows(out)
    splits = collections.defaultdict(set)
    for split, row in rows:
        splits[row["image_key"]].add(split)
        assert image_key(row["image"]) == row["image_key"]  # the store gives the right bytes
    assert all(len(s) == 1 for s in splits.values())  # no image in both splits
    keys = {k for k in splits if k}
    validation = sum(s == {"validation"} for k, s in splits.items() if k)
    assert 0 < validation < len(keys)  # 20% of ~90 images: drawn, not all or none
    assert stats["image_store"]["images"] == len(keys)  # 377575 is in three sources, stored once
    stored = glob.glob(f"{out}/images/part-*")
    assert sum(os.path.getsize(p) for p in stored) >= stats["image_store"]["bytes"]
    images = {r["image_key"]: r["image"] for _, r in rows if r["image_key"]}
    assert stats["image_store"]["bytes"] == sum(map(len, images.values()))


def _digests(out) -> dict:
    """sha256 of every shard file (the tasks' and the images'); rejects/ is Beam's Parquet sink,
    in the order its workers finish."""
    files = [p for p in glob.glob(f"{out}/**/*", recursive=True) if os.path.isfile(p)
             and os.path.basename(p) not in ("COMPLETED", "info.json", "stats.json")
             and "/rejects/" not in p]
    return {os.path.relpath(p, out): hashlib.sha256(open(p, "rb").read()).hexdigest()
            for p in files}


def test_the_same_spec_gives_the_same_bytes_and_parquet_the_same_rows(built, inputs, tmp_path):
    out, _ = built
    spec = MixtureSpec.from_dict(inputs[0])
    again = str(tmp_path / "again")
    run_mixture_job(spec, again)
    assert _digests(again) == _digests(out) and len(_digests(out)) == 8 * 2 * 3 + 3 * 2
    rejected = lambda folder: sorted(read_records(f"{folder}/rejects", Rejection), key=repr)
    assert rejected(again) == rejected(out)
    parquet = str(tmp_path / "parquet")
    run_mixture_job(MixtureSpec.from_dict({**inputs[0], "format": "parquet"}), parquet)
    assert _all_rows(parquet) == _all_rows(out)


def test_the_sampler_draws_tasks_by_their_rates(built):
    """50,000 draws: each task's share within 2 points of its rate's share of the tasks that have
    train examples."""
    mixture = MixtureFolder(built[0])
    draws = mixture.sampler("train", seed=3, with_images=False)
    tasks = [draws[i]["task"] for i in range(50_000)]
    present = {t: r for t, r in TASK_RATES.items() if mixture.count(t) > 0}
    total = sum(present.values())
    shares = collections.Counter(tasks)
    for task, rate in present.items():
        assert abs(shares[task] / len(tasks) - rate / total) <= 0.02, (task, shares[task])
    assert set(shares) == set(present)
    same = mixture.sampler("train", seed=3, with_images=False)
    assert [same[i] for i in range(500)] == [draws[i] for i in range(500)]
    other = mixture.sampler("train", seed=4, with_images=False)
    assert [other[i] for i in range(500)] != [draws[i] for i in range(500)]
    ocr_only = mixture.sampler("train", rates={"ocr": 1.0}, seed=3)
    assert {ocr_only[i]["task"] for i in range(20)} == {"ocr"} and ocr_only[0]["image"][:2] == (
        b"\xff\xd8")


def test_hugging_face_datasets_joins_examples_to_the_image_store(tmp_path, inputs, monkeypatch):
    """A user without this package: every task's Parquet folder and the images folder, joined
    on image_key with ``datasets`` alone."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    out = str(tmp_path / "parquet")
    spec = {**inputs[0], "format": "parquet", "tasks": {"vqa": {}, "detection": {}}}
    run_mixture_job(MixtureSpec.from_dict(spec), out)
    load = lambda pattern: datasets.load_dataset("parquet", data_files=sorted(glob.glob(pattern)),
                                                 split="train", cache_dir=str(tmp_path / "hf"))
    vqa = load(f"{out}/vqa/*/part-*.parquet")
    images = {r["image_key"]: r["image"] for r in load(f"{out}/images/part-*.parquet")}
    assert sorted((r["prefix"], r["target"]) for r in vqa) == [
        ("Answer in en: What animal is this?", "dog"), ("Answer in en: What is red?", "the hydrant")]
    coco = inputs[1] / "images" / "000000377575.jpg"
    assert {images[r["image_key"]] for r in vqa} == {coco.read_bytes()}
