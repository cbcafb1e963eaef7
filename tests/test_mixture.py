import glob
import io

import pytest
from PIL import Image

from pipelines.corpus_io import WriteRecords, mark_completed, read_json
from pipelines.mixture.job import run_mixture_job
from pipelines.mixture.spec import MixtureSpec
from pipelines.mixture.tasks import NotApplicable, TaskRegistry, task_rng
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


@pytest.mark.parametrize("task,pair,expect", [
    ("captioning", _pair("a"), ("caption en", "a green square on a red background")),
    ("captioning", _pair("a", lang="und"), "undetermined_language"),
    ("ocr", _pair("a", ocr="OPEN"), ("ocr", "OPEN")),
    ("ocr", _pair("a"), "no_text_in_image"),
    ("split_captioning", _pair("a", alt="two words"), "caption_too_short"),
])
def test_task_outcomes(task, pair, expect):
    result = TaskRegistry.get(task)(pair, task_rng(task, pair.pair_id))
    if isinstance(expect, str):
        assert result == NotApplicable(expect)
    else:
        assert (result.prefix, result.target, result.source_id) == (*expect, pair.pair_id)


@pytest.mark.parametrize("alt,lang", [("a green square on a red background", "en"),
                                      ("红色背景上的绿色正方形", "zh")])
def test_split_captioning_splits_and_is_deterministic(alt, lang):
    pair = _pair("p1", alt=alt, lang=lang)
    fn = TaskRegistry.get("split_captioning")
    a, b = (fn(pair, task_rng("split_captioning", "p1")) for _ in range(2))
    assert a == b
    head = a.prefix.split(": ", 1)[1]
    joiner = "" if lang == "zh" else " "
    assert head + joiner + a.target == alt and head and a.target


def test_registry_is_strict():
    with pytest.raises(ValueError, match="already registered"):
        TaskRegistry.add("ocr", lambda p, r: None)
    with pytest.raises(KeyError, match="did you mean 'captioning'"):
        TaskRegistry.get("captoning")
    with pytest.raises(KeyError):
        MixtureSpec(rates={"captoning": 1.0})
    with pytest.raises(ValueError):
        MixtureSpec(rates={"ocr": 0.0})


def test_mixture_job_writes_arrayrecord_shards(tmp_path):
    import apache_beam as beam
    from array_record.python.array_record_module import ArrayRecordReader

    corpus, out = str(tmp_path / "corpus"), str(tmp_path / "mixture")
    pairs = [_pair(f"p{i}", ocr="SALE" if i % 2 else "") for i in range(10)]
    pairs.append(_pair("und", lang="und"))  # no task applies: rejected, counted
    with beam.Pipeline() as p:
        p | beam.Create(pairs) | WriteRecords(corpus, CorpusPair)
    mark_completed(corpus)
    stats = run_mixture_job(corpus, out, MixtureSpec(rates={"captioning": 1.0, "ocr": 1.0},
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
