"""The safety stage: one pair's checks, the Beam transform, ``openwebli filter``, the shipped
term lists on real spam pages, and face blurring on real photos."""
import dataclasses
import hashlib
import io
import json

import apache_beam as beam
import cv2
import numpy as np
import pytest
from PIL import Image

from pipelines.cli import main
from pipelines.corpus_io import WriteRecords, mark_completed, read_json, read_records, write_info
from pipelines.safety.checks import Lists, SafetyConfig, check_pair
from quality_filters.faces import blur_boxes, detect_faces
from quality_filters.safety import HashList, OptOutList, TermList
from schemas import AnnotatedPair, OcrLine, Rejection

FACE_PHOTO = "captions/coco-mini-val2017/images/000000192699.jpg"  # two real faces, both found


def _jpeg(colour=(40, 120, 200), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def _pair(n: int = 0, **fields) -> AnnotatedPair:
    jpeg = fields.pop("image_bytes", _jpeg())
    base = dict(pair_id=f"p{n}", page_url=f"http://site.test/page{n}.html",
                image_url=f"http://img.site.test/{n}.jpg", alt_text="a blue square",
                context_text="", page_title="Gallery", image_bytes=jpeg, image_format="JPEG",
                width=64, height=48, sha256=hashlib.sha256(jpeg).hexdigest(),
                phash="0123456789abcdef", lang="en", lang_conf=0.9, ocr_lines=[], ocr_text="",
                ocr_lang="und")
    return AnnotatedPair(**{**base, **fields})


NO_LISTS = Lists(HashList(), OptOutList(), TermList.from_files([]))
KEEP_FACES = SafetyConfig(faces="keep")


def test_each_check_rejects_with_its_reason_in_order():
    lists = Lists(HashList.parse(["phash:0123456789abcdee"]),
                  OptOutList.parse(["img.site.test"]), TermList.from_files([]))
    opted = check_pair(_pair(alt_text="porn"), lists, KEEP_FACES)[0]
    assert (opted.reason, opted.detail) == ("opted_out", "img.site.test")
    lists = dataclasses.replace(lists, opt_out=OptOutList())
    blocked = check_pair(_pair(alt_text="porn"), lists, KEEP_FACES)[0]
    assert (blocked.reason, blocked.detail) == ("blocklisted_hash", "phash")
    lists = dataclasses.replace(lists, blocked=HashList())
    for field in ("alt_text", "page_title", "context_text", "ocr_text"):
        unsafe = check_pair(_pair(**{field: "Watch free PORN and xxx"}), lists, KEEP_FACES)[0]
        assert (unsafe.stage, unsafe.reason, unsafe.detail) == ("safety", "unsafe_text",
                                                                "porn, xxx"), field
    kept, counts = check_pair(_pair(), lists, KEEP_FACES)
    assert kept == _pair() and counts == {}


def test_pii_is_redacted_everywhere_and_counted_or_dropped():
    pair = _pair(alt_text="mail jo@example.com", context_text="call +44 20 7946 0958",
                 ocr_lines=[OcrLine(text="jo@example.com", box=[0.0] * 8, confidence=0.9),
                            OcrLine(text="OPEN", box=[0.0] * 8, confidence=0.9)],
                 ocr_text="jo@example.com OPEN", ocr_lang="en")
    kept, counts = check_pair(pair, NO_LISTS, KEEP_FACES)
    assert (kept.alt_text, kept.context_text, kept.ocr_text) == (
        "mail [EMAIL]", "call [PHONE]", "[EMAIL] OPEN")
    assert [line.text for line in kept.ocr_lines] == ["[EMAIL]", "OPEN"]
    assert counts == {"pii_email": 3, "pii_phone": 1}
    dropped, _ = check_pair(pair, NO_LISTS, SafetyConfig(pii="drop", faces="keep"))
    assert (dropped.reason, dropped.detail) == ("pii", "email, phone")
    assert check_pair(pair, NO_LISTS, SafetyConfig(pii="keep", faces="keep")) == (pair, {})


@pytest.fixture(scope="module")
def face_photo(test_data):
    return (test_data / FACE_PHOTO).read_bytes()


def test_faces_are_blurred_in_the_stored_image_or_dropped(face_photo):
    pixels = cv2.imdecode(np.frombuffer(face_photo, np.uint8), cv2.IMREAD_COLOR)
    faces = detect_faces(pixels)
    assert len(faces) == 2  # two frontal faces, both found (docs/safety.md)
    pair = _pair(image_bytes=face_photo)
    kept, counts = check_pair(pair, NO_LISTS, SafetyConfig())
    assert counts == {"faces_blurred": len(faces), "images_blurred": 1}
    blurred = cv2.imdecode(np.frombuffer(kept.image_bytes, np.uint8), cv2.IMREAD_COLOR)
    assert detect_faces(blurred) == []  # neither is found again
    dropped, _ = check_pair(pair, NO_LISTS, SafetyConfig(faces="drop"))
    assert (dropped.reason, dropped.detail) == ("faces", str(len(faces)))


def test_blur_touches_only_the_grown_box():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    out = blur_boxes(pixels, [(20, 10, 20, 20)], margin=0.25)  # grown by 5: x 15–45, y 5–35
    changed = np.argwhere((out != pixels).any(axis=2))
    assert changed[:, 0].min() >= 5 and changed[:, 0].max() < 35
    assert changed[:, 1].min() >= 15 and changed[:, 1].max() < 45
    assert (out[5:35, 15:45] != pixels[5:35, 15:45]).mean() > 0.9


def _write_folder(folder, pairs):
    with beam.Pipeline() as p:
        p | beam.Create(pairs) | WriteRecords(str(folder), AnnotatedPair)
    write_info(str(folder), AnnotatedPair, {})
    mark_completed(str(folder))


def test_filter_command_accounts_for_every_pair(tmp_path, capsys):
    pairs = [_pair(0), _pair(1, alt_text="casino online bonus"),
             _pair(2, alt_text="write to me@example.com"),
             _pair(3, page_url="http://optout.test/p.html"), _pair(4, image_bytes=_jpeg((9, 9, 9)))]
    corpus, out = tmp_path / "corpus", tmp_path / "filtered"
    _write_folder(corpus, pairs)
    (tmp_path / "opt.txt").write_text("optout.test\n")
    (tmp_path / "hashes.txt").write_text(f"sha256:{pairs[4].sha256}\n")
    assert main(["filter", "--input", str(corpus), "--output", str(out), "--faces", "keep",
                 "--opt-out", str(tmp_path / "opt.txt"),
                 "--block-hashes", str(tmp_path / "hashes.txt")]) == 0
    printed = capsys.readouterr().out
    assert ("safety           5       2         3  blocklisted_hash=1, opted_out=1, "
            "unsafe_text=1") in printed
    assert "safety: pii_email=1" in printed
    kept = {p.pair_id: p for p in read_records(str(out), AnnotatedPair)}
    assert sorted(kept) == ["p0", "p2"] and kept["p2"].alt_text == "write to [EMAIL]"
    rejects = read_records(str(out / "rejects"), Rejection)
    assert sorted((r.record_id, r.reason) for r in rejects) == [
        ("p1", "unsafe_text"), ("p3", "opted_out"), ("p4", "blocklisted_hash")]
    stats = read_json(str(out), "stats.json")
    assert stats["stages"]["safety"]["balanced"] and stats["safety_actions"] == {"pii_email": 1}
    assert json.loads((out / "info.json").read_text())["record"] == "AnnotatedPair"


def test_filter_refuses_a_folder_of_other_records(tmp_path, capsys):
    assert main(["filter", "--input", str(tmp_path / "none"), "--output",
                 str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


# The 16 pages of the real Common Crawl excerpt, read one by one: ten are pornographic or
# gambling spam (four adult video sites or titles, five lottery/casino pages, one job site
# with casino spam injected at its foot); the other six are a fire-safety firm, a cycling
# site (two pages, one of them its "Tippspiel", a tipping game), a gift firm, a gardener and a
# news page whose title is mojibake.
SPAM_PAGES = {"http://035.psb556.com/", "http://037426.cn/", "http://041696.com/",
              "http://044545.com/", "http://0513mt.com/", "http://05925.net/",
              "http://0755krk.com/", "http://0760.jxtdw.com/", "http://077678u.info/",
              "http://096355.com/"}


def _visible_text(html: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in tree.css("script, style"):
        node.decompose()
    return " ".join(n.text(separator=" ") for n in (tree.css_first("title"), tree.body) if n)


def test_shipped_terms_catch_the_spam_pages_of_a_real_crawl(test_data):
    from warcio.archiveiterator import ArchiveIterator

    from pipelines.crawl.transforms import decode_html

    terms, flagged, pages = TermList.from_files([]), set(), 0
    with open(test_data / "warc" / "cc-main-2020-34-sample.warc.gz", "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type != "response":
                continue
            pages += 1
            url = record.rec_headers.get_header("WARC-Target-URI")
            html = decode_html(record.content_stream().read(),
                               record.http_headers.get_header("Content-Type") or "")
            if terms.find(_visible_text(html)):
                flagged.add(url.split("/", 3)[0] + "//" + url.split("/", 3)[2] + "/")
    assert pages == 16
    assert flagged == SPAM_PAGES  # 10 of 16 (62.5%), none of the six others
