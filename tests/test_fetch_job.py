"""``openwebli fetch``: a URL list → image records over loopback, every row accounted for."""
import io

from PIL import Image

from pipelines.cli import main
from pipelines.corpus_io import read_records
from schemas import ImageRecord, Rejection


def test_fetch_command(site_url, tmp_path, capsys):
    urls = [f"{site_url}/img/g00-0.jpg", f"{site_url}/img/g01-0.jpg",
            f"{site_url}/img/nope.jpg", "ftp://example.com/x.jpg"]
    listing = tmp_path / "urls.tsv"  # CC3M layout: caption <TAB> url
    listing.write_text("".join(f"picture {i}\t{u}\n" for i, u in enumerate(urls)))
    out = tmp_path / "out"
    assert main(["fetch", "--url-list", str(listing), "--output", str(out),
                 "--allow-private-networks", "--image-size", "64", "--resize-mode",
                 "center_crop"]) == 0
    # The funnel as printed: the URL list's 4 rows (the ftp one refused), then the 3 fetched.
    funnel = capsys.readouterr().out.splitlines()
    assert funnel[:3] == [f"{'stage':<10}{'seen':>8}{'kept':>8}{'rejected':>10}  reasons",
                          "urllist          4       3         1  bad_url=1",
                          "fetch            3       2         1  http_404=1"]
    images = read_records(str(out), ImageRecord)
    assert sorted(i.image_url for i in images) == sorted(urls[:2])
    assert all(Image.open(io.BytesIO(i.image_bytes)).size == (64, 64) for i in images)
    reasons = sorted(r.reason for r in read_records(str(out / "rejects"), Rejection))
    assert reasons == ["bad_url", "http_404"]  # the ftp URL is refused by the URL-list reader
    assert (out / "COMPLETED").exists()


def test_fetch_command_needs_a_url_list(capsys):
    assert main(["fetch", "--url-list", "/nonexistent/*.parquet", "--output", "x"]) == 2
    assert "no file matches" in capsys.readouterr().err


def test_fetch_streams_more_candidates_than_it_keeps_in_flight(site_url, tmp_path):
    """With 2 request threads at most 4 fetches are in flight: the other 26 rows wait their
    turn, one decode thread decodes them all, and every one of the 30 ends kept or rejected."""
    from pipelines.corpus_io import read_json

    urls = [f"{site_url}/img/g{page:02d}-{i}.jpg" for page in range(8) for i in range(3)]
    urls += [f"{site_url}/img/missing-{i}.jpg" for i in range(6)]
    listing = tmp_path / "urls.tsv"
    listing.write_text("".join(f"picture number {i}\t{u}\n" for i, u in enumerate(urls)))
    out = tmp_path / "out"
    assert main(["fetch", "--url-list", str(listing), "--output", str(out), "--threads", "2",
                 "--decode-threads", "1", "--allow-private-networks",
                 "--direct_running_mode", "in_memory"]) == 0
    fetch = read_json(str(out), "stats.json")["stages"]["fetch"]
    images = read_records(str(out), ImageRecord)
    rejects = read_records(str(out / "rejects"), Rejection)
    # The site has every g<page>-<i>.jpg of the 8 gallery pages (each a valid JPEG, 200-480 by
    # 160-400 px) and no missing-*.jpg.
    assert fetch == {"seen": 30, "kept": 24, "rejected": {"http_404": 6}, "balanced": True}
    assert sorted(i.image_url for i in images) == sorted(urls[:24])
    assert sorted(r.url for r in rejects) == sorted(urls[24:])
