"""The Grain input: per-example functions eagerly, then the dataset over a mixture folder."""
import io
import json
import random

import numpy as np
import pytest

from model.configs import get_config
from model.data import decode_image, example_features, read_examples, train_dataset
from model.tokenizer import EOS_ID, PAD_ID, Tokenizer, train_tokenizer
from pipelines import synthetic
from pipelines.corpus_io import mark_completed
from pipelines.mixture import formats, layout
from schemas import TaskExample


def jpeg(img) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG")
    return out.getvalue()


def make_examples(n: int, seed: int = 0) -> list[TaskExample]:
    """``n`` examples of generated scenes: captioning in every language, split-captioning, OCR."""
    rng, out = random.Random(seed), []
    for i in range(n):
        scene, lang = synthetic.random_scene(rng), synthetic.LANGS[i % len(synthetic.LANGS)]
        caption = synthetic.scene_caption(scene, lang)
        task, prefix, target = [("captioning", f"caption {lang}", caption),
                                ("split_captioning", f"split caption {lang}: {caption[:6]}",
                                 caption[6:]),
                                ("ocr", "ocr", f"no {i}")][i % 3]
        image = jpeg(synthetic.render_scene(scene, (96, 72), rng))
        out.append(TaskExample(task=task, image=image, prefix=prefix, target=target, lang=lang,
                               source_id=str(i)))
    return out


def row(ex: TaskExample) -> dict:
    """A TaskExample as the reader returns it (its image from the store)."""
    return {"task": ex.task, "image_key": layout.image_key(ex.image), "prefix": ex.prefix,
            "target": ex.target, "lang": ex.lang, "source_id": ex.source_id, "image": ex.image}


def write_mixture(folder, examples, shards: int = 2, validation=()) -> str:
    """``examples`` (train) and ``validation`` as a mixture folder in the layout ``openwebli
    mixture`` writes (pipelines/mixture/layout.py; the job's own output is tested in
    test_mixture.py), each task at rate 1."""
    splits = {"train": list(examples), "validation": list(validation)}
    tasks = sorted({ex.task for ex in splits["train"] + splits["validation"]})
    for split, task in ((sp, t) for sp in splits for t in tasks):
        mine = [row(ex) for ex in splits[split] if ex.task == task]
        for s in range(shards):
            rows = [{k: v for k, v in r.items() if k != "image"} for r in mine[s::shards]]
            name = formats.shard_name(s, shards, "arrayrecord")
            formats.write_shard(str(folder / task / split / name), rows, layout.EXAMPLE_TYPES,
                                "arrayrecord")
    images = {layout.image_key(ex.image): ex.image for ex in splits["train"] + splits["validation"]
              if ex.image}
    for s in range(shards):
        keys = sorted(k for k in images if layout.image_shard(k, shards) == s)
        formats.write_shard(str(folder / "images" / formats.shard_name(s, shards, "arrayrecord")),
                            [{"image_key": k, "image": images[k]} for k in keys],
                            layout.IMAGE_TYPES, "arrayrecord")
        formats.write_shard(str(folder / "images" / layout.index_name(s, shards)),
                            [{"image_key": k} for k in keys], {"image_key": str}, "parquet")
    counts = {t: {sp: sum(ex.task == t for ex in splits[sp]) for sp in splits} for t in tasks}
    info = {"format": "arrayrecord", "config": {"num_shards": shards},
            "image_store": {"path": "images"},
            "tasks": {t: {"rate": 1.0, "examples": counts[t]} for t in tasks}}
    (folder / "info.json").write_text(json.dumps(info))
    mark_completed(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    """(folder, tokenizer path) for 12 hand-made examples in two shards."""
    examples = make_examples(12)
    folder = write_mixture(tmp_path_factory.mktemp("mixture"), examples)
    texts = [t for ex in examples for t in (ex.prefix, ex.target)]
    return folder, str(train_tokenizer(texts, tmp_path_factory.mktemp("tok"), 400 + 1124))


def test_decode_image_matches_open_clip_preprocess():
    import open_clip
    from PIL import Image

    from pipelines.score.scorer_model import PROJECT_MODEL, register_project_models

    register_project_models()
    _, _, preprocess = open_clip.create_model_and_transforms(PROJECT_MODEL)
    for size in ((97, 71), (60, 130)):
        data = jpeg(synthetic.render_scene(synthetic.random_scene(random.Random(3)), size,
                                           random.Random(3)))
        expected = preprocess(Image.open(io.BytesIO(data))).numpy().transpose(1, 2, 0)
        np.testing.assert_allclose(decode_image(data, 64), expected, atol=1e-5)


def test_example_features(mixture):
    config = get_config("tiny:max_prefix_len=24,max_target_len=40")
    tok = Tokenizer(mixture[1])
    ex = make_examples(2)[1]
    f = example_features(row(ex), tok, config)
    assert f["image"].shape == (64, 64, 3) and f["image"].dtype == np.float32
    assert f["prefix"].shape == (24,) and f["target"].shape == (40,)
    assert f["decoder_input"][0] == PAD_ID  # T5's decoder start token
    np.testing.assert_array_equal(f["decoder_input"][1:], f["target"][:-1])
    assert EOS_ID in f["target"] and tok.decode(f["target"]) == ex.target
    assert tok.decode(f["prefix"]) == ex.prefix


def test_read_examples(mixture):
    got = read_examples(mixture[0])
    without_images = [{k: v for k, v in row(ex).items() if k != "image"} for ex in make_examples(12)]
    assert sorted(got, key=lambda e: int(e["source_id"])) == without_images
    assert [r["task"] for r in read_examples(mixture[0], limit=2)] == ["captioning"] * 2 + [
        "ocr"] * 2 + ["split_captioning"] * 2  # the first 2 of each task
    assert read_examples(mixture[0], limit=50) == got


def test_text_only_examples_get_the_mean_image():
    assert not decode_image(b"", 8).any() and decode_image(b"", 8).shape == (8, 8, 3)


def test_batches_are_seeded_endless_and_resumable(mixture):
    config = get_config("tiny:batch_size=5")
    first = [b["image"] for _, b in zip(range(6), train_dataset(mixture[0], mixture[1], config))]
    again = [b["image"] for _, b in zip(range(6), train_dataset(mixture[0], mixture[1], config))]
    assert all(b.shape == (5, 64, 64, 3) for b in first)  # 30 rows from 12 examples
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    resumed = next(iter(train_dataset(mixture[0], mixture[1], config, start_step=4)))
    np.testing.assert_array_equal(resumed["image"], first[4])
    rows = [row.tobytes() for row in np.concatenate(first)]
    assert len(set(rows[:12])) == 12 and rows[:12] != rows[12:24]  # each epoch: all, reshuffled


def test_processes_read_disjoint_halves(mixture):
    config = get_config("tiny:batch_size=6")
    halves = [next(iter(train_dataset(mixture[0], mixture[1], config, 0, i, 2))) for i in (0, 1)]
    assert all(h["image"].shape == (3, 64, 64, 3) for h in halves)
    rows = [{r.tobytes() for r in h["image"]} for h in halves]
    assert not rows[0] & rows[1]


def test_truncation_is_counted(mixture):
    """The 12 examples' prefixes and targets against lengths they fit and lengths they do not."""
    from model.train import truncated

    examples = [row(ex) for ex in make_examples(12)]
    tokenizer = Tokenizer(mixture[1])
    longest = max(len(tokenizer.sp.encode(e["prefix"])) for e in examples)
    longest_target = max(len(tokenizer.sp.encode(e["target"])) for e in examples) + 1
    fits = get_config(f"tiny:max_prefix_len={longest},max_target_len={longest_target}")
    assert truncated(examples, tokenizer, fits) == {"examples": 12, "prefix": 0, "target": 0}
    tight = get_config(f"tiny:max_prefix_len={longest - 1},max_target_len={longest_target - 1}")
    counts = truncated(examples, tokenizer, tight)
    assert counts["prefix"] == sum(len(tokenizer.sp.encode(e["prefix"])) == longest for e in examples)
    assert counts["prefix"] >= 1 and counts["target"] >= 1


def test_the_config_reweights_tasks_at_read_time(mixture):
    """10,000 draws as the trainer makes them (the config's task_rates over the mixture's
    folders): shares within 2 points of 3:1 (ocr left out: never drawn); and batches of an
    ocr-only config hold only OCR prefixes, without a shard rewritten."""
    import collections

    from pipelines.mixture.reader import MixtureFolder

    config = get_config("tiny:task_rates=captioning:3+split_captioning:1")
    draws = MixtureFolder(mixture[0]).sampler("train", rates=config.rates, seed=config.seed,
                                              with_images=False)
    shares = collections.Counter(draws[i]["task"] for i in range(10_000))
    assert set(shares) == {"captioning", "split_captioning"}
    assert abs(shares["captioning"] / 10_000 - 0.75) <= 0.02
    ocr = get_config("tiny:batch_size=4,task_rates=ocr:1")
    tok = Tokenizer(mixture[1])
    batch = next(iter(train_dataset(mixture[0], mixture[1], ocr)))
    assert {tok.decode(p) for p in batch["prefix"]} == {"ocr"}
    with pytest.raises(ValueError, match="expected task:rate"):
        get_config("tiny:task_rates=ocr")
