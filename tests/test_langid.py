"""fastText lid.176 on real sentences (Leipzig corpora, via lingua-py's test data)."""
import dataclasses

import numpy as np
import pytest

from pipelines.annotate.handlers import LangIdHandler
from pipelines.annotate.langid_model import (LangId, LangIdConfig, normalize_label,
                                             resolve_macrolanguage)
from schemas import AnnotatedPair, ImageRecord, OcrLine, from_row, to_row

LANGS = ("en", "fr", "de", "es", "ru", "zh", "ar", "hi", "ja")


@pytest.fixture(scope="module")
def langid():
    return LangId()


@pytest.mark.slow
def test_top1_accuracy_on_real_sentences(langid, test_data):
    accuracy = {}
    for lang in LANGS:
        lines = (test_data / "langid" / "sentences" / f"{lang}.txt").read_text("utf-8").splitlines()
        texts = [t for t in lines if t.strip()][:50]
        assert len(texts) == 50
        labels = [label for label, _ in langid.predict(texts)]
        accuracy[lang] = sum(label == lang for label in labels) / len(texts)
    assert all(acc >= 0.9 for acc in accuracy.values()), accuracy


@pytest.mark.slow
def test_empty_and_multiline_text(langid):
    (empty, conf), (multi, _) = langid.predict(["", "Das ist ein Satz.\nUnd noch einer hier."])
    assert (empty, conf) == ("und", 0.0)
    assert multi == "de"


def test_label_normalisation():
    assert normalize_label("__label__nb") == "no"
    assert normalize_label("__label__en") == "en"
    assert normalize_label("__label__ceb") == "ceb"


class _FakeFastText:
    """Answers every text with the given top-k, as fastText's batch predict does."""

    def __init__(self, labels, probs):
        self.labels, self.probs = labels, probs
        self.calls = []

    def predict(self, texts, k=1):
        if isinstance(texts, str):  # one text: one answer, not a list of them
            self.calls.append(([texts], k))
            return tuple(f"__label__{l}" for l in self.labels[:k]), np.array(self.probs[:k])
        self.calls.append((list(texts), k))
        return ([tuple(f"__label__{l}" for l in self.labels[:k])] * len(texts),
                [np.array(self.probs[:k])] * len(texts))


def _with_model(fake, min_confidence=0.5) -> LangId:
    lid = object.__new__(LangId)
    lid.config, lid.model = LangIdConfig(min_confidence=min_confidence), fake
    return lid


def test_sh_is_resolved_to_its_most_probable_member():
    assert resolve_macrolanguage(["sh", "en", "hr", "bs", "sr"]) == "hr"
    assert resolve_macrolanguage(["sh", "sr", "hr"]) == "sr"
    assert resolve_macrolanguage(["sh", "sl", "en"]) == "sh"  # no member among the top-k
    assert resolve_macrolanguage(["hr", "sh", "bs"]) == "hr"  # only a top-1 "sh" is resolved
    assert resolve_macrolanguage(["no", "nn", "da"]) == "no"  # lid.176's Bokmål label stays
    assert resolve_macrolanguage(["ms", "id"]) == "ms"  # and its Malay label

    fake = _FakeFastText(["sh", "sl", "bs", "hr", "sr"], [0.6, 0.2, 0.1, 0.05, 0.05])
    assert _with_model(fake).predict(["Dobar dan"]) == [("bs", 0.6)]  # top-1's confidence
    assert [k for _, k in fake.calls] == [1, 5]  # top-5 asked only for the "sh" text
    low = _FakeFastText(["sh", "bs"], [0.4, 0.3])
    assert _with_model(low).predict(["Dobar dan"]) == [("und", 0.4)]


@pytest.mark.slow
def test_real_model_resolves_sh_on_bosnian_and_croatian():
    langid = LangId(LangIdConfig(min_confidence=0.0))
    texts = {  # from ../shared/data/langid/sentences/{bs,hr}.txt
        "bs": "Danas se u sklopu medrese se nalazi džamija, sportski objekti i internat.",
        "hr": "Aktivno elektroničko upravljanje vrši korekcije automatski i kontrolira "
              "upravljanje na površinama sa lošim gripom.",
    }
    for lang, text in texts.items():
        top, _ = langid.model.predict(text, k=5)
        assert top[0] == "__label__sh", top  # lid.176's top-1 is Serbo-Croatian
        assert langid.predict([text])[0][0] == lang


def _image_record(**kw) -> ImageRecord:
    return ImageRecord(pair_id="p", page_url="http://site.test/", image_url="http://site.test/i",
                       image_bytes=b"", image_format="JPEG", width=1, height=1, sha256="s",
                       phash="0", **kw)


@pytest.mark.slow
def test_alt_context_and_ocr_text_get_their_own_labels_in_one_call(langid):
    calls = []

    class Counting:
        def predict(self, texts):
            calls.append(len(texts))
            return langid.predict(texts)

    batch = [
        (_image_record(alt_text="A red bicycle leaning against the wall of an old house",
                       context_text="Das Fahrrad steht seit Jahren vor dem alten Haus am Marktplatz."),
         []),
        (_image_record(alt_text="Une boulangerie au coin de la rue, le matin de bonne heure"),
         [OcrLine(text="Полная распродажа всех товаров в магазине до конца недели", box=[0.0] * 8,
                  confidence=0.9)]),
    ]
    first, second = LangIdHandler().run_inference(batch, Counting())
    assert calls == [6]  # alt, context and OCR text of the whole batch in one call
    assert (first.lang, first.context_lang, first.ocr_lang) == ("en", "de", "und")
    assert (second.lang, second.context_lang, second.ocr_lang) == ("fr", "und", "ru")
    assert first.lang_conf > 0.5 and second.ocr_text.startswith("Полная")


def test_rows_written_before_context_lang_still_read():
    pair = AnnotatedPair(**{f.name: getattr(_image_record(alt_text="a"), f.name)
                            for f in dataclasses.fields(ImageRecord)},
                         lang="en", lang_conf=0.9, ocr_lines=[], ocr_text="", ocr_lang="und",
                         context_lang="de")
    row = to_row(pair)
    del row["context_lang"]
    assert from_row(AnnotatedPair, row) == dataclasses.replace(pair, context_lang="und")


def test_to_row_matches_asdict_with_nested_records():
    pair = AnnotatedPair(**{f.name: getattr(_image_record(alt_text="a"), f.name)
                            for f in dataclasses.fields(ImageRecord)},
                         lang="en", lang_conf=0.9, ocr_text="OPEN 24h", ocr_lang="en",
                         ocr_lines=[OcrLine(text="OPEN", box=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                                            confidence=0.9),
                                    OcrLine(text="24h", box=[1.0] * 8, confidence=0.8)])
    assert to_row(pair) == dataclasses.asdict(pair)
    assert from_row(AnnotatedPair, to_row(pair)) == pair
