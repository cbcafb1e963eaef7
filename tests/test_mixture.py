"""The mixture's tasks, registries and spec (pure), then the job's folder on a small corpus."""
import dataclasses
import io
import json
import os
import random

import pytest
from PIL import Image

from pipelines.mixture.registry import Registry
from pipelines.mixture.spec import MixtureSpec, corpus_spec
from pipelines.mixture.tasks import MIXTURES, TASKS, Context, Mixture, NotApplicable, Task, task_rng
from pipelines.mixture.tasks.ocr import within_budget
from schemas import BoxedObject, CorpusPair, LabelledImage, OcrLine, VqaTriplet


def _jpeg(green: int = 200):
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (10, green, 10)).save(out, format="JPEG")
    return out.getvalue()


def _pair(pid, alt="a green square on a red background", lang="en", ocr="", green=200):
    """A corpus pair; ``ocr`` may be several lines, joined by newlines."""
    texts = ocr.split("\n") if ocr else []
    lines = [OcrLine(text=t, box=[0.0] * 8, confidence=0.9) for t in texts]
    return CorpusPair(pair_id=pid, page_url="http://site.test/p", image_url=f"http://site.test/{pid}",
                      alt_text=alt, image_bytes=_jpeg(green), image_format="JPEG", width=64,
                      height=64, sha256="0" * 64, phash="0" * 16, lang=lang, lang_conf=0.9,
                      ocr_lines=lines, ocr_text=" ".join(texts), ocr_lang="en" if ocr else "und",
                      score=0.5)


@pytest.mark.parametrize("task,pair,style,expect", [
    ("captioning", _pair("a"), "pali",
     ("Generate the alt_text in en", "a green square on a red background")),
    ("captioning", _pair("a"), "paligemma", ("caption en", "a green square on a red background")),
    ("captioning", _pair("a", lang="und"), "pali", "undetermined_language"),
    ("ocr", _pair("a", ocr="OPEN"), "pali", ("Generate the OCR text in en", "OPEN")),
    ("ocr", _pair("a", ocr="OPEN"), "paligemma", ("ocr", "OPEN")),
    ("ocr", _pair("a", ocr="OPEN\nDAILY 9-5"), "pali", ("Generate the OCR text in en",
                                                       "OPEN DAILY 9-5")),
    ("ocr", _pair("a", ocr="x" * 513), "pali", "ocr_line_too_long"),
    ("ocr", _pair("a"), "pali", "no_text_in_image"),
    ("ocr", dataclasses.replace(_pair("a"), ocr_ran=False), "pali", "ocr_not_run"),
    ("split_captioning", _pair("a", alt="two words"), "pali", "caption_too_short"),
    # the cut for this pair id's seed falls after 4 of the 7 words
    ("split_captioning", _pair("a"), "pali",
     ("Generate the alt_text in en at 4: a green square on <extra_id_0>", "a red background")),
    ("split_captioning", _pair("a"), "paligemma",
     ("split caption en: a green square on", "a red background")),
])
def test_task_outcomes(task, pair, style, expect):
    result = TASKS.get(task)(pair, task_rng(task, pair.pair_id), style)
    if isinstance(expect, str):
        assert result == NotApplicable(expect)
    else:
        assert [(ex.task, ex.prefix, ex.target, ex.source_id, ex.image) for ex in result] == [
            (task, *expect, pair.pair_id, pair.image_bytes)]


@pytest.mark.parametrize("alt,lang", [("a green square on a red background", "en"),
                                      ("红色背景上的绿色正方形", "zh")])
def test_split_captioning_splits_and_is_deterministic(alt, lang):
    pair = _pair("p1", alt=alt, lang=lang)
    fn = TASKS.get("split_captioning")
    (a,), (b,) = (fn(pair, task_rng("split_captioning", "p1")) for _ in range(2))
    assert a == b
    head = a.prefix.split(": ", 1)[1].removesuffix(" <extra_id_0>")
    joiner = "" if lang == "zh" else " "
    assert head + joiner + a.target == alt and head and a.target
    assert a.prefix.startswith(f"Generate the alt_text in {lang} at {len(head.split()) if joiner else len(head)}: ")


def test_registry_is_strict():
    registry = Registry("task")
    registry.add("captioning", 1)
    with pytest.raises(ValueError, match="task 'captioning' is already registered"):
        registry.add("captioning", 2)
    with pytest.raises(ValueError, match="snake_case"):
        registry.add("Split-Captioning", 3)
    registry.add("split_captioning", 4)
    with pytest.raises(KeyError, match=r"unknown task 'captoning'; did you mean 'captioning' or "
                                       r"'split_captioning'\?"):
        registry.get("captoning")
    assert registry.names() == ["captioning", "split_captioning"]
    with pytest.raises(ValueError, match="task 'ocr' is already registered"):
        TASKS.add("ocr", TASKS.get("ocr"))


def test_tasks_declare_their_source_and_features():
    assert {n: TASKS.get(n).source for n in TASKS.names()} == {
        "captioning": "corpus", "detection": "labelled_image", "object_aware_vqa": "labelled_image",
        "ocr": "corpus", "span_corruption": "text", "split_captioning": "corpus", "vqa": "vqa",
        "vqg": "vqa"}
    assert TASKS.get("ocr").description.startswith("``Generate the OCR text in <lang>``")
    with pytest.raises(ValueError, match="unknown prompt style 't5'"):
        TASKS.get("ocr")(_pair("a", ocr="OPEN"), task_rng("ocr", "a"), "t5")
    with pytest.raises(ValueError, match="unknown source kind 'webpage'"):
        Task("x", "webpage", lambda r, rng, ctx: [])
    with pytest.raises(ValueError, match=r"features \['pixels'\] are not TaskExample fields"):
        Task("x", "corpus", lambda r, rng, ctx: [], features=("image", "pixels"))
    empty = Task("x", "corpus", lambda r, rng, ctx: [])
    assert empty(_pair("a"), task_rng("x", "a")) == NotApplicable("no_example")


def test_the_seed_changes_the_draws_and_seed_0_keeps_earlier_ids():
    assert task_rng("t", "r").random() == task_rng("t", "r", seed=0).random()
    assert task_rng("t", "r", seed=1).random() != task_rng("t", "r").random()


def test_mixtures_are_checked():
    assert MIXTURES.get("default").task_names == ["captioning", "split_captioning", "ocr",
                                                  "span_corruption"]
    assert sorted(MIXTURES.get("pali").task_names) == TASKS.names()  # all eight
    with pytest.raises(KeyError, match="did you mean 'captioning'"):
        Mixture("m", (("captoning", 1.0),))
    with pytest.raises(ValueError, match=r"names tasks twice: \['ocr'\]"):
        Mixture("m", (("ocr", 1.0), ("ocr", 0.5)))
    with pytest.raises(ValueError, match="rate of task 'ocr' must be > 0"):
        Mixture("m", (("ocr", 0.0),))
    with pytest.raises(KeyError, match="unknown mixture 'defualt'; did you mean 'default'"):
        corpus_spec("c", mixture="defualt")
    assert corpus_spec("c", num_shards=2).rates == {
        "captioning": 1.0, "split_captioning": 1.0, "ocr": 1.0, "span_corruption": 0.5}


def _spec(tmp_path, text: str) -> MixtureSpec:
    path = tmp_path / "spec.json"
    path.write_text(text)
    return MixtureSpec.from_file(str(path))


CORPUS = '"sources": {"web": {"kind": "corpus", "path": "corpus"}}'


@pytest.mark.parametrize("text,error", [
    ('{%s, "tasks": {"ocr": {}, "ocr": {"rate": 2}}}' % CORPUS, r"keys given twice: \['ocr'\]"),
    ('{%s, "mixture": "default", "shards": 2}' % CORPUS, r"unknown keys \['shards'\]"),
    ('{%s}' % CORPUS, 'gives either "tasks"'),
    ('{%s, "tasks": {"ocr": {}}, "format": "csv"}' % CORPUS, "unknown shard format 'csv'"),
    ('{%s, "tasks": {"ocr": {"weight": 1}}}' % CORPUS, r"task 'ocr': unknown keys \['weight'\]"),
    ('{%s, "tasks": {"detection": {}}}' % CORPUS,
     "task 'detection' reads labelled_image records and no source in the spec gives them"),
    ('{%s, "tasks": {"detection": {"source": "web"}}}' % CORPUS,
     r"task 'detection' reads labelled_image records; source 'web' of kind 'corpus' gives "
     r"\['corpus', 'text'\]"),
    ('{%s, "tasks": {"ocr": {"source": "site"}}}' % CORPUS, r"no source named 'site' \(have \['web'\]\)"),
    ('{"sources": {"s": {"kind": "coco", "images": "i"}}, "tasks": {"detection": {}}}',
     r"source 's' of kind 'coco' needs keys \['annotations', 'images'\].*missing \['annotations'\]"),
    ('{"sources": {"s": {"kind": "flickr", "path": "p"}}, "tasks": {"ocr": {}}}',
     "source 's': unknown kind 'flickr'"),
    ('{%s, "tasks": {"ocr": {}}, "validation_fraction": 1.0}' % CORPUS,
     r"validation_fraction must be in \[0, 1\)"),
    ('{"sources": {"a": {"kind": "text", "path": "a.txt"}, "b": {"kind": "text", "path": "b.txt"}}, '
     '"tasks": {"span_corruption": {}}}', r"2 sources give them \(\['a', 'b'\]\): name one"),
])
def test_spec_errors_say_what_is_wrong(tmp_path, text, error):
    with pytest.raises((KeyError, ValueError), match=error):
        _spec(tmp_path, text)


def test_spec_file_resolves_paths_and_sources(tmp_path):
    spec = _spec(tmp_path, '{"sources": {"web": {"kind": "corpus", "path": "corpus"}, '
                           '"site": {"kind": "coco", "annotations": "a.json", "images": "img"}}, '
                           '"tasks": {"ocr": {"rate": 2}, "detection": {}}, "num_shards": 2}')
    assert spec.source_map["web"].options == {"path": str(tmp_path / "corpus")}
    assert spec.source_map["site"].paths("annotations") == [str(tmp_path / "a.json")]
    assert [(t.name, t.source, t.rate) for t in spec.tasks] == [("ocr", "web", 2.0),
                                                                ("detection", "site", 1.0)]
    assert (spec.num_shards, spec.seed, spec.validation_fraction, spec.format) == (
        2, 0, 0.05, "arrayrecord")
    again = MixtureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.digest() == spec.digest()
    assert dataclasses.replace(spec, seed=1).digest() != spec.digest()
    (tmp_path / "ocr.json").write_text('{"tasks": {"ocr": {}}}')  # the corpus from --corpus
    with_corpus = MixtureSpec.from_file(str(tmp_path / "ocr.json"), corpus="elsewhere")
    assert with_corpus.source_map["corpus"].options == {"path": os.path.abspath("elsewhere")}
    assert with_corpus.tasks[0].source == "corpus"


TRIPLET = VqaTriplet(image_id="im1.jpg", image=b"jpeg", question="What colour is the square?",
                     answer="green", lang="en")


@pytest.mark.parametrize("task,triplet,style,expect", [
    ("vqa", TRIPLET, "pali", ("Answer in en: What colour is the square?", "green")),
    ("vqa", TRIPLET, "paligemma", ("answer en What colour is the square?", "green")),
    ("vqg", TRIPLET, "pali", ("Generate a question in en for green", "What colour is the square?")),
    ("vqg", TRIPLET, "paligemma", ("question en green", "What colour is the square?")),
    ("vqa", dataclasses.replace(TRIPLET, answer=" "), "pali", "empty_question_or_answer"),
    ("vqg", dataclasses.replace(TRIPLET, lang="und"), "pali", "undetermined_language"),
])
def test_vqa_and_vqg(task, triplet, style, expect):
    result = TASKS.get(task)(triplet, task_rng(task, triplet.image_id), style)
    if isinstance(expect, str):
        assert result == NotApplicable(expect)
    else:
        assert [(ex.prefix, ex.target, ex.lang, ex.image) for ex in result] == [
            (*expect, "en", b"jpeg")]


def _labelled(*labels, lang="en"):
    objects = [BoxedObject(label=label, box=[0.1 * i, 0.1, 0.2 + 0.1 * i, 0.3])
               for i, label in enumerate(labels)]
    return LabelledImage(image_id="i", image=b"jpeg", width=10, height=10, captions=[],
                         objects=objects, lang=lang)


def test_object_aware_vqa_where_every_choice_is_forced():
    """One label present (dog, twice) and one absent (cat): the listing, a yes and a no, a
    two-label question that can only be "no", and the dog count."""
    task = TASKS.get("object_aware_vqa")
    got = task(_labelled("dog", "dog"), task_rng("object_aware_vqa", "i"),
               Context(labels=("cat", "dog")))
    assert [(ex.prefix, ex.target) for ex in got] == [
        ("Answer in en: What objects are in the image?", "dog"),
        ("Answer in en: Is there a dog in the image?", "yes"),
        ("Answer in en: Is there a cat in the image?", "no"),
        ("Answer in en: Are there a cat and a dog in the image?", "no"),
        ("Answer in en: How many objects labelled dog are in the image?", "2")]
    assert len({ex.source_id for ex in got}) == 5  # one id an example
    styled = task(_labelled("apple"), task_rng("object_aware_vqa", "i"),
                  Context(style="paligemma", labels=("apple", "orange")))
    assert [ex.prefix for ex in styled][1:3] == ["answer en Is there an apple in the image?",
                                                 "answer en Is there an orange in the image?"]


def test_object_aware_vqa_without_absent_labels_asks_no_presence_and_counts_right():
    got = TASKS.get("object_aware_vqa")(_labelled("cat", "dog", "dog"),
                                        task_rng("object_aware_vqa", "i"), Context())
    pairs = [(ex.prefix.removeprefix("Answer in en: "), ex.target) for ex in got]
    assert pairs[:2] == [("What objects are in the image?", "cat, dog"),
                         ("Are there a cat and a dog in the image?", "yes")]
    (count,) = pairs[2:]
    assert count in [("How many objects labelled cat are in the image?", "1"),
                     ("How many objects labelled dog are in the image?", "2")]
    assert TASKS.get("object_aware_vqa")(_labelled(), random.Random(0), Context()) == (
        NotApplicable("no_objects"))
    assert TASKS.get("object_aware_vqa")(_labelled("chat", lang="fr"), random.Random(0),
                                         Context()) == NotApplicable("no_questions_in_language")


def test_ocr_drops_whole_random_lines_past_the_budget():
    lines = [f"line {i} " + "w" * 20 for i in range(10)]  # 27 characters each
    for seed in range(20):
        kept = within_budget(lines, random.Random(seed), budget=100)
        assert kept == [line for line in lines if line in kept]  # whole lines, in order
        assert len(" ".join(kept)) <= 100 and len(kept) == 3  # 4 lines need 111 characters
    picks = {tuple(within_budget(lines, random.Random(seed), budget=100)) for seed in range(20)}
    assert len(picks) > 1  # random lines, not always the first
    assert within_budget(lines[:3], random.Random(0), budget=100) == lines[:3]  # 83 fit
