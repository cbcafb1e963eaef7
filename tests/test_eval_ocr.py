"""``openwebli eval-ocr`` on real ICDAR 2015 photos, and its metrics on hand-made cases."""
import pytest

from pipelines.annotate.eval_ocr import edit_distance, evaluate_ocr, read_ground_truth, score_image


def test_metrics_by_hand(tmp_path):
    assert edit_distance("genexis", "genaxis") == 1 and edit_distance("", "abc") == 3
    assert score_image(["open", "open", "bar"], ["open", "baz"]) == {
        "words": 3, "found": 1, "chars": 11, "char_errors": 1}
    gt = tmp_path / "gt_x.txt"
    gt.write_text("\ufeff1,2,3,4,5,6,7,8,Genaxis Theatre\n1,2,3,4,5,6,7,8,###\n"
                  "1,2,3,4,5,6,7,8,[06]\n", encoding="utf-8")
    assert read_ground_truth(gt) == ["genaxis", "theatre", "06"]


@pytest.mark.slow
@pytest.mark.parametrize("backend,min_recall,max_cer", [
    ("easyocr", 0.15, 0.6),  # measured: word recall 0.182 (4 of 22 words), CER 0.520
    ("rapidocr", 0.45, 0.28),  # measured: word recall 0.500 (11 of 22 words), CER 0.232
    # measured: word recall 0.000 (0 of 22 words; it reads no incidental scene text), CER 0.880
    ("tesseract", 0.0, 0.92),
])
def test_backend_on_icdar_photos_holds_its_measured_level(test_data, backend, min_recall, max_cer):
    result = evaluate_ocr(test_data / "ocr" / "icdar2015-mmocr-toy", backend)
    assert (result["images"], result["words"]) == (10, 22)
    assert result["word_recall"] >= min_recall and result["cer"] <= max_cer, result
