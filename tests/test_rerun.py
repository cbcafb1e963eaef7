"""Reruns and ``--force``: a folder is rebuilt from nothing, never topped up with an earlier
run's shards (a rerun with fewer shards used to return old and new records together)."""
import glob
import shutil

import pytest

from pipelines.cli import main
from pipelines.corpus_io import clear_folder, read_json, read_records
from schemas import CorpusPair, ImageRecord, Rejection

IN_MEMORY = "--direct_running_mode=in_memory"  # a Beam option: one process is enough here


def _plant_stale_shard(folder) -> str:
    """Copy one of ``folder``'s shards under the name a run with 100 shards would have used."""
    shard = sorted(glob.glob(f"{folder}/part-*.parquet"))[0]
    stale = f"{folder}/part-00099-of-00100.parquet"
    shutil.copy(shard, stale)
    return stale


def test_clear_folder_removes_a_stage_folder_and_refuses_a_foreign_one(tmp_path):
    stage = tmp_path / "stage"
    (stage / "rejects").mkdir(parents=True)
    for name in ("part-00000-of-00001.parquet", "rejects/part-00000-of-00001.parquet",
                 "stats.json", "info.json", "COMPLETED"):
        (stage / name).write_bytes(b"x")
    (stage / "beam-temp-part-1234").mkdir()
    clear_folder(str(stage))
    assert list(stage.iterdir()) == []
    (stage / "part-00000-of-00001.parquet").write_bytes(b"x")
    (stage / "my-notes.txt").write_text("the user's own")
    with pytest.raises(ValueError, match=r"holds files that no openwebli stage wrote \(my-notes"):
        clear_folder(str(stage))
    assert sorted(p.name for p in stage.iterdir()) == ["my-notes.txt",
                                                        "part-00000-of-00001.parquet"]
    clear_folder(str(tmp_path / "missing"))  # nothing to do


def test_crawl_force_rebuilds_the_folder(test_data, tmp_path, capsys):
    warc, out = str(test_data / "warc" / "books.toscrape.warc"), tmp_path / "crawl"
    argv = ["crawl", "--input", warc, "--output", str(out), "--no-fetch", IN_MEMORY]
    assert main(argv) == 0
    stale = _plant_stale_shard(out / "archived")
    assert len(read_records(str(out / "archived"), ImageRecord)) == 40  # 20 + the stale copy
    assert main(argv) == 0  # COMPLETED: skipped, as it is
    assert "20 images taken from the archives" in capsys.readouterr().out
    assert main([*argv, "--force"]) == 0
    assert len(read_records(str(out / "archived"), ImageRecord)) == 20
    assert not glob.glob(stale)


def test_fetch_force_with_fewer_urls_keeps_only_the_new_run(site_url, tmp_path):
    listing, out = tmp_path / "urls.tsv", tmp_path / "images"
    urls = [f"{site_url}/img/g00-{i}.jpg" for i in range(3)] + [f"{site_url}/img/nope.jpg"]
    listing.write_text("".join(f"picture {i}\t{u}\n" for i, u in enumerate(urls)))
    argv = ["fetch", "--url-list", str(listing), "--output", str(out),
            "--allow-private-networks", IN_MEMORY]
    assert main(argv) == 0
    _plant_stale_shard(out)
    listing.write_text(f"picture 0\t{urls[1]}\n")
    assert main([*argv, "--force"]) == 0
    assert [i.image_url for i in read_records(str(out), ImageRecord)] == [urls[1]]
    assert read_records(str(out / "rejects"), Rejection) == []  # the old run's 404 is gone
    assert read_json(str(out), "stats.json")["stages"]["fetch"]["seen"] == 1


def test_mixture_force_with_fewer_shards_leaves_no_old_shard(tmp_path):
    import apache_beam as beam

    from pipelines.corpus_io import WriteRecords, mark_completed
    from tests.test_mixture import _pair

    corpus, out, spec = tmp_path / "corpus", tmp_path / "mixture", tmp_path / "spec.json"
    with beam.Pipeline() as p:
        p | beam.Create([_pair(f"p{i}") for i in range(12)]) | WriteRecords(str(corpus), CorpusPair)
    mark_completed(str(corpus))
    argv = ["mixture", "--corpus", str(corpus), "--output", str(out), "--spec", str(spec)]
    spec.write_text('{"tasks": {"captioning": {}, "ocr": {}}, "num_shards": 4}')
    assert main(argv) == 0
    assert len(glob.glob(f"{out}/captioning/train/*.array_record")) == 4
    spec.write_text('{"tasks": {"captioning": {}}, "num_shards": 2}')
    assert main([*argv, "--force"]) == 0
    two = ["part-00000-of-00002.array_record", "part-00001-of-00002.array_record"]
    assert sorted(p.name for p in (out / "captioning" / "train").iterdir()) == two
    assert sorted(p.name for p in (out / "images").glob("*.array_record")) == two
    assert not (out / "ocr").exists()  # the earlier run's task is gone with its shards


def test_an_output_folder_that_is_an_input_is_refused(tmp_path, capsys):
    """Clearing the output first would delete the input: refused before anything runs."""
    from pipelines.corpus_io import mark_completed, write_json

    crawl = tmp_path / "crawl"  # a finished crawl folder, as check_crawl_folder reads one
    crawl.mkdir()
    write_json(str(crawl), "info.json", {"record": "Candidate"})
    (crawl / "part-00000-of-00001.parquet").write_bytes(b"the crawl's candidates")
    mark_completed(str(crawl))
    assert main(["fetch", "--candidates", str(crawl), "--output", str(crawl), "--force"]) == 2
    assert f"output folder {crawl} would overwrite the input {crawl}" in capsys.readouterr().err
    assert (crawl / "part-00000-of-00001.parquet").read_bytes() == b"the crawl's candidates"
    assert main(["fetch", "--candidates", str(crawl), "--output", str(tmp_path)]) == 2  # holds it
    assert f"output folder {tmp_path} would overwrite the input {crawl}" in capsys.readouterr().err


@pytest.mark.slow
def test_build_force_rebuilds_the_corpus(test_data, tmp_path):
    """The fused corpus job (real OCR, language ID and scorer) on the books WARC's 20 images."""
    out = tmp_path / "corpus"
    argv = ["build", "--input", str(test_data / "warc" / "books.toscrape.warc"), "--no-fetch",
            "--output", str(out), "--ocr-backend", "rapidocr", "--keep-fraction", "0.5", IN_MEMORY]
    assert main(argv) == 0
    _plant_stale_shard(out)
    assert main([*argv, "--force"]) == 0
    pairs = read_records(str(out), CorpusPair)
    assert len(pairs) == read_json(str(out), "stats.json")["stages"]["score"]["kept"] == 10
    assert len({p.pair_id for p in pairs}) == 10
