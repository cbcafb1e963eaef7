import dataclasses
import glob
import io

import pytest
from PIL import Image

from pipelines.corpus_io import WriteRecords, mark_completed, read_json
from pipelines.mixture.job import run_mixture_job
from pipelines.mixture.spec import MixtureSpec
from pipelines.mixture.registry import Registry
from pipelines.mixture.tasks import MIXTURES, TASKS, Mixture, NotApplicable, Task, task_rng
from schemas import CorpusPair, OcrLine, TaskExample
from schemas.codec import decode


def _jpeg():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 10)).save(out, format="JPEG")
    return out.getvalue()


def _pair(pid, alt="a green square on a red background", lang="en", ocr=""):
    lines = [OcrLine(text=ocr, box=[0.0] * 8, confidence=0.9)] if ocr else []
    return CorpusPair(pair_id=pid, page_url="http://site.test/p", image_url=f"http://site.test/{pid}",
                      alt_text=alt, image_bytes=_jpeg(), image_format="JPEG", width=64, height=64,
                      sha256="0" * 64, phash="0" * 16, lang=lang, lang_conf=0.9, ocr_lines=lines,
                      ocr_text=ocr, ocr_lang="en" if ocr else "und", score=0.5)


@pytest.mark.parametrize("task,pair,style,expect", [
    ("captioning", _pair("a"), "pali",
     ("Generate the alt_text in en", "a green square on a red background")),
    ("captioning", _pair("a"), "paligemma", ("caption en", "a green square on a red background")),
    ("captioning", _pair("a", lang="und"), "pali", "undetermined_language"),
    ("ocr", _pair("a", ocr="OPEN"), "pali", ("Generate the OCR text in en", "OPEN")),
    ("ocr", _pair("a", ocr="OPEN"), "paligemma", ("ocr", "OPEN")),
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
        "captioning": "corpus", "detection": "coco", "ocr": "corpus", "span_corruption": "text",
        "split_captioning": "corpus"}
    assert TASKS.get("ocr").description.startswith("``Generate the OCR text in <lang>``")
    with pytest.raises(ValueError, match="unknown prompt style 't5'"):
        TASKS.get("ocr")(_pair("a", ocr="OPEN"), task_rng("ocr", "a"), "t5")
    with pytest.raises(ValueError, match="unknown source kind 'webpage'"):
        Task("x", "webpage", lambda r, rng, style: [])
    with pytest.raises(ValueError, match=r"features \['pixels'\] are not TaskExample fields"):
        Task("x", "corpus", lambda r, rng, style: [], features=("image", "pixels"))
    empty = Task("x", "corpus", lambda r, rng, style: [])
    assert empty(_pair("a"), task_rng("x", "a")) == NotApplicable("no_example")


def test_mixtures_are_checked():
    assert MIXTURES.get("default").task_names == ["captioning", "split_captioning", "ocr"]
    with pytest.raises(KeyError, match="did you mean 'captioning'"):
        Mixture("m", (("captoning", 1.0),))
    with pytest.raises(ValueError, match=r"names tasks twice: \['ocr'\]"):
        Mixture("m", (("ocr", 1.0), ("ocr", 0.5)))
    with pytest.raises(ValueError, match="rate of task 'ocr' must be in"):
        MixtureSpec.of(rates={"ocr": 0.0})
    with pytest.raises(KeyError, match="unknown mixture 'defualt'; did you mean 'default'"):
        MixtureSpec.of(mixture="defualt")
    assert MixtureSpec.of(mixture="default", num_shards=2).rates == {
        "captioning": 1.0, "split_captioning": 1.0, "ocr": 1.0}


def test_spec_file_refuses_a_task_named_twice(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"rates": {"ocr": 1.0, "ocr": 0.5}}')
    with pytest.raises(ValueError, match=r"keys given twice: \['ocr'\]"):
        MixtureSpec.from_file(str(spec))
    spec.write_text('{"rates": {"ocr": 1.0}, "shards": 2}')
    with pytest.raises(ValueError, match=r"unknown keys \['shards'\]"):
        MixtureSpec.from_file(str(spec))
    spec.write_text('{"mixture": "default", "num_shards": 2}')
    assert MixtureSpec.from_file(str(spec)) == MixtureSpec(MIXTURES.get("default"), 2)


def test_the_mixture_job_refuses_a_task_of_another_source(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    mark_completed(str(corpus))
    with pytest.raises(ValueError, match="task 'detection' reads coco records"):
        run_mixture_job(str(corpus), str(tmp_path / "out"), MixtureSpec.of(rates={"detection": 1.0}))


def test_mixture_job_writes_arrayrecord_shards(tmp_path):
    import apache_beam as beam
    from array_record.python.array_record_module import ArrayRecordReader

    corpus, out = str(tmp_path / "corpus"), str(tmp_path / "mixture")
    pairs = [_pair(f"p{i}", ocr="SALE" if i % 2 else "") for i in range(10)]
    pairs.append(_pair("und", lang="und"))  # no task applies: rejected, counted
    with beam.Pipeline() as p:
        p | beam.Create(pairs) | WriteRecords(corpus, CorpusPair)
    mark_completed(corpus)
    stats = run_mixture_job(corpus, out, MixtureSpec.of(rates={"captioning": 1.0, "ocr": 1.0},
                                                        num_shards=3))
    assert stats["stages"]["mixture"] == {"seen": 11, "kept": 10, "rejected": {"no_task_applies": 1},
                                          "balanced": True}
    assert stats["tasks"]["ocr"] == {"examples": 5, "skipped": {"no_text_in_image": 6}}
    examples = []
    for path in glob.glob(f"{out}/*.array_record"):
        reader = ArrayRecordReader(path)
        examples += [decode(TaskExample, b) for b in reader.read_all()]
        reader.close()
    assert sorted((e.task, e.source_id) for e in examples) == sorted(
        [("captioning", f"p{i}") for i in range(10)] + [("ocr", f"p{i}") for i in range(1, 10, 2)])
    assert read_json(out, "info.json")["record"] == "TaskExample"
