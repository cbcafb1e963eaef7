"""fastText lid.176 on real sentences (Leipzig corpora, via lingua-py's test data)."""
import pytest

from pipelines.annotate.langid_model import LangId, normalize_label

LANGS = ("en", "fr", "de", "es", "ru", "zh", "ar", "hi", "ja")


@pytest.fixture(scope="module")
def langid():
    return LangId()


def test_top1_accuracy_on_real_sentences(langid, test_data):
    accuracy = {}
    for lang in LANGS:
        lines = (test_data / "langid" / "sentences" / f"{lang}.txt").read_text("utf-8").splitlines()
        texts = [t for t in lines if t.strip()][:50]
        assert len(texts) == 50
        labels = [label for label, _ in langid.predict(texts)]
        accuracy[lang] = sum(label == lang for label in labels) / len(texts)
    assert all(acc >= 0.9 for acc in accuracy.values()), accuracy


def test_empty_and_multiline_text(langid):
    (empty, conf), (multi, _) = langid.predict(["", "Das ist ein Satz.\nUnd noch einer hier."])
    assert (empty, conf) == ("und", 0.0)
    assert multi == "de"


def test_label_normalisation():
    assert normalize_label("__label__nb") == "no"
    assert normalize_label("__label__en") == "en"
    assert normalize_label("__label__ceb") == "ceb"
