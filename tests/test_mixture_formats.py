"""Each shard format read back by its own ecosystem's reader, not by this package: Grain over
ArrayRecord and an independent TFRecord reader (the ``tfrecord`` package's), both parsing
TensorFlow's ``Example`` protobuf; Hugging Face ``datasets`` over Parquet; ``webdataset`` over
the tars. Then the same rows give the same bytes in every format."""
import hashlib

import pytest

from pipelines.mixture.formats import FORMATS, shard_name, write_shard
from pipelines.mixture.layout import EXAMPLE_TYPES, IMAGE_TYPES

ROWS = [  # what the job writes: strings in several scripts, an empty image key (text only)
    {"task": "captioning", "image_key": "0f" * 16, "prefix": "Generate the alt_text in de",
     "target": "ein rotes Quadrat auf weißem Hintergrund", "lang": "de", "source_id": "a1"},
    {"task": "ocr", "image_key": "ab" * 16, "prefix": "ocr", "target": "街上写着 OPEN 的招牌",
     "lang": "zh", "source_id": "b2"},
    {"task": "span_corruption", "image_key": "", "prefix": "the <extra_id_0> fox",
     "target": "<extra_id_0> quick brown <extra_id_1>", "lang": "und", "source_id": "c3"},
]
IMAGES = [{"image_key": "0f" * 16, "image": b"\xff\xd8\x00\x01 jpeg \x00"},
          {"image_key": "ab" * 16, "image": bytes(range(256))}]


def _write(tmp_path, fmt, rows=ROWS, types=EXAMPLE_TYPES) -> str:
    path = str(tmp_path / fmt / shard_name(0, 1, fmt))
    write_shard(path, rows, types, fmt)
    return path


def _from_example(data: bytes) -> dict:
    from tfrecord import example_pb2  # TensorFlow's example.proto, compiled

    feature = example_pb2.Example.FromString(data).features.feature
    return {name: feature[name].bytes_list.value[0] for name in feature}


def _as_bytes(rows, types):
    return [{k: v.encode() if types[k] is str else v for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("rows,types", [(ROWS, EXAMPLE_TYPES), (IMAGES, IMAGE_TYPES)])
def test_grain_reads_arrayrecord_examples(tmp_path, rows, types):
    import grain

    source = grain.sources.ArrayRecordDataSource([_write(tmp_path, "arrayrecord", rows, types)])
    assert len(source) == len(rows)
    assert [_from_example(source[i]) for i in reversed(range(len(rows)))] == (
        _as_bytes(rows, types)[::-1])  # random access, in any order


def test_an_independent_tfrecord_reader_checks_the_framing(tmp_path):
    from tfrecord.reader import tfrecord_loader

    path = _write(tmp_path, "tfrecord")
    got = list(tfrecord_loader(path, None, {name: "byte" for name in EXAMPLE_TYPES}))
    assert [{k: bytes(v) for k, v in row.items()} for row in got] == _as_bytes(ROWS, EXAMPLE_TYPES)
    # the reader checks each record's CRC32C: a flipped byte in the data is refused
    data = bytearray(open(path, "rb").read())
    data[20] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(Exception):
        list(tfrecord_loader(path, None, None))


def test_hugging_face_datasets_reads_parquet(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    path = _write(tmp_path, "parquet")
    got = datasets.load_dataset("parquet", data_files=[path], split="train",
                                cache_dir=str(tmp_path / "hf"))
    assert got.column_names == list(EXAMPLE_TYPES) and got.to_list() == ROWS
    images = datasets.load_dataset("parquet", data_files=[_write(tmp_path / "i", "parquet", IMAGES,
                                                                 IMAGE_TYPES)],
                                   split="train", cache_dir=str(tmp_path / "hf"))
    assert images.to_list() == IMAGES


def test_webdataset_reads_the_tars(tmp_path):
    import webdataset as wds

    path = _write(tmp_path, "webdataset")
    got = list(wds.WebDataset(path, shardshuffle=False, empty_check=False))
    assert [{k: v for k, v in s.items() if not k.startswith("__")} for s in got] == _as_bytes(
        ROWS, EXAMPLE_TYPES)
    assert [s["__key__"] for s in got] == [f"part-00000-of-00001-{i:07d}" for i in range(3)]
    images = list(wds.WebDataset(_write(tmp_path / "i", "webdataset", IMAGES, IMAGE_TYPES),
                                 shardshuffle=False))
    assert [s["image"] for s in images] == [im["image"] for im in IMAGES]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_same_rows_give_the_same_bytes(tmp_path, fmt):
    digest = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
    assert digest(_write(tmp_path / "a", fmt)) == digest(_write(tmp_path / "b", fmt))
    assert digest(_write(tmp_path / "c", fmt, ROWS[::-1])) != digest(_write(tmp_path / "a", fmt))
