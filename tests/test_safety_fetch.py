"""Hash lists and opt-out lists where requests are made: a loopback crawl, then fetch."""
import io
import threading
from pathlib import Path

import pytest
from PIL import Image

from pipelines.cli import main
from pipelines.corpus_io import read_json, read_records
from quality_filters.dedup import image_phash
from schemas import ImageRecord, Rejection
from tests.loopback import serve

PHOTOS = "captions/coco-mini-val2017/images"


def _jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture
def photos(test_data):
    """Three real photos (served bytes) and a re-encoded, smaller copy of the third."""
    files = sorted((test_data / PHOTOS).glob("*.jpg"))[:3]
    a, b, c = (f.read_bytes() for f in files)
    img = Image.open(io.BytesIO(c)).convert("RGB")
    copy = _jpeg(img.resize((img.width * 4 // 5, img.height * 4 // 5)), 70)
    return {"blocked.jpg": a, "kept.jpg": b, "copy.jpg": copy}, c


def _page(images) -> bytes:
    tags = "".join(f'<img src="{src}" alt="a photograph number {i} of the gallery">'
                   for i, src in enumerate(images))
    return f"<html><head><title>Gallery</title></head><body>{tags}</body></html>".encode()


class Requests:
    """Routes that record the (Host header, path) of every request."""

    def __init__(self, files: dict[str, bytes]):
        self.seen, self.lock = [], threading.Lock()
        self.files = files

    def route(self, body: bytes, ctype: str):
        def handle(handler):
            with self.lock:
                self.seen.append((handler.headers.get("Host", ""), handler.path))
            return 200, {"Content-Type": ctype}, body
        return handle


def _crawl_and_fetch(base, tmp_path, extra):
    crawled, fetched = tmp_path / "crawled", tmp_path / "fetched"
    assert main(["crawl", "--seeds", f"{base}/index.html", "--output", str(crawled),
                 "--allow-private-networks", *extra]) == 0
    assert main(["fetch", "--candidates", str(crawled), "--output", str(fetched),
                 "--allow-private-networks", *extra]) == 0
    return crawled, fetched


def test_hash_lists_reject_an_image_and_a_re_encoded_copy_and_write_neither(
        photos, tmp_path, capsys):
    served, original = photos
    requests = Requests(served)
    routes = {f"/img/{name}": requests.route(data, "image/jpeg") for name, data in served.items()}
    routes["/index.html"] = requests.route(_page([f"/img/{n}" for n in sorted(served)]),
                                           "text/html")
    import hashlib

    listing = tmp_path / "hashes.txt"
    listing.write_text("# a hash-sharing programme's list\n"
                       f"sha256:{hashlib.sha256(served['blocked.jpg']).hexdigest()}\n"
                       f"phash:{image_phash(original)}\n")
    with serve(routes) as base:
        _, fetched = _crawl_and_fetch(base, tmp_path, ["--block-hashes", str(listing)])
    assert "fetch            3       1         2  blocklisted_hash=2" in capsys.readouterr().out
    kept = read_records(str(fetched), ImageRecord)
    assert [Path(r.image_url).name for r in kept] == ["kept.jpg"]
    rejects = read_records(str(fetched / "rejects"), Rejection)
    assert sorted((Path(r.url).name, r.reason, r.detail) for r in rejects) == [
        ("blocked.jpg", "blocklisted_hash", "sha256"), ("copy.jpg", "blocklisted_hash", "phash")]
    assert read_json(str(fetched), "stats.json")["stages"]["fetch"]["balanced"]
    # Neither image is anywhere under the output folders: not its served bytes, nor a piece
    # of them (Parquet may split or compress a column, not a 4 KiB run of JPEG entropy data).
    for name in ("blocked.jpg", "copy.jpg"):
        needle = served[name][len(served[name]) // 2:][:4096]
        for f in tmp_path.rglob("*"):
            if f.is_file() and f.name != "hashes.txt":
                assert needle not in f.read_bytes(), (name, f)


def test_opt_out_lists_mean_no_request_reaches_a_listed_site(photos, tmp_path, capsys):
    """One image under a listed URL prefix, one on a listed domain (localhost, the same server
    by another name): neither is requested, nor robots.txt there, and both are counted."""
    served, _ = photos
    requests = Requests(served)
    routes = {"/img/kept.jpg": requests.route(served["kept.jpg"], "image/jpeg"),
              "/private/blocked.jpg": requests.route(served["blocked.jpg"], "image/jpeg"),
              "/robots.txt": requests.route(b"User-agent: *\nAllow: /\n", "text/plain")}
    with serve(routes) as base:
        port = base.rsplit(":", 1)[1]
        routes["/index.html"] = requests.route(_page([
            "/img/kept.jpg", "/private/blocked.jpg",
            f"http://localhost:{port}/img/copy.jpg"]), "text/html")
        listing = tmp_path / "opt-out.txt"
        listing.write_text(f"localhost\n{base}/private/\n")
        _, fetched = _crawl_and_fetch(base, tmp_path, ["--opt-out", str(listing)])
    assert "fetch            3       1         2  opted_out=2" in capsys.readouterr().out
    assert not [r for r in requests.seen if r[0].startswith("localhost")]
    assert not [r for r in requests.seen if r[1].startswith("/private/")]
    assert ("127.0.0.1:" + port, "/img/kept.jpg") in requests.seen  # the rest was fetched
    rejects = read_records(str(fetched / "rejects"), Rejection)
    assert sorted((r.reason, r.detail) for r in rejects) == [
        ("opted_out", f"{base}/private/"), ("opted_out", "localhost")]


def test_a_listed_seed_is_never_requested(tmp_path, capsys):
    requests = Requests({})
    with serve({"/index.html": requests.route(_page([]), "text/html")}) as base:
        listing = tmp_path / "opt-out.txt"
        listing.write_text("127.0.0.1\n")
        assert main(["crawl", "--seeds", f"{base}/index.html", "--output",
                     str(tmp_path / "crawled"), "--allow-private-networks",
                     "--opt-out", str(listing)]) == 0
    assert requests.seen == []
    assert "crawl            1       0         1  opted_out=1" in capsys.readouterr().out


def test_a_malformed_list_is_a_clear_error_before_any_job(tmp_path, capsys):
    listing = tmp_path / "hashes.txt"
    listing.write_text("sha256:abc\n")
    assert main(["fetch", "--url-list", str(listing), "--output", str(tmp_path / "out"),
                 "--block-hashes", str(listing)]) == 2
    assert f"{listing}:1: a sha256 is 64 hex digits" in capsys.readouterr().err


def test_a_crawled_encyclopaedia_page_gives_its_captioned_thumbnails_as_pairs(tmp_path):
    """Through the crawl job over loopback: every thumbnail (empty alt, a real caption)
    becomes a candidate whose text is its caption, flagged text_source = caption."""
    from schemas import Candidate
    from tests.test_extract import _encyclopaedia_page

    captions = ["The old harbour at low tide", "A fishing boat leaving at dawn",
                "Nets drying on the quay", "The harbour in winter"]
    requests = Requests({})
    page = _encyclopaedia_page(captions).encode()
    with serve({"/wiki/Harbour": requests.route(page, "text/html")}) as base:
        crawled = tmp_path / "crawled"
        assert main(["crawl", "--seeds", f"{base}/wiki/Harbour", "--output", str(crawled),
                     "--allow-private-networks"]) == 0
    candidates = read_records(str(crawled), Candidate)
    assert sorted((c.alt_text, c.text_source) for c in candidates) == sorted(
        (c, "caption") for c in captions)


def test_ai_txt_is_honoured_when_asked(photos, tmp_path, capsys):
    """A site whose ai.txt disallows JPEGs: with --ai-txt its .jpg images are rejected as
    ai_txt_disallowed and never requested; its PNG is fetched. Without the flag, ai.txt is
    not read."""
    served, _ = photos
    png = io.BytesIO()
    Image.open(io.BytesIO(served["kept.jpg"])).save(png, "PNG")
    requests = Requests(served)
    routes = {"/img/a.jpg": requests.route(served["kept.jpg"], "image/jpeg"),
              "/img/b.png": requests.route(png.getvalue(), "image/png"),
              "/ai.txt": requests.route(b"User-Agent: *\nDisallow: *.jpg\n", "text/plain"),
              "/index.html": requests.route(_page(["/img/a.jpg", "/img/b.png"]), "text/html")}
    with serve(routes) as base:
        _, fetched = _crawl_and_fetch(base, tmp_path, ["--ai-txt"])
        assert "fetch            2       1         1  ai_txt_disallowed=1" in capsys.readouterr().out
        assert [p for _, p in requests.seen if p.startswith("/img/")] == ["/img/b.png"]
        requests.seen.clear()
        _crawl_and_fetch(base, tmp_path / "plain", [])
    assert "/ai.txt" not in [p for _, p in requests.seen]
    assert "fetch            2       2         0" in capsys.readouterr().out
