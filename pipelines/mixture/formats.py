"""Shard formats of a mixture folder, each readable by its own ecosystem without this package.
Pure: no Beam.

A shard is a list of rows, each a dict of feature name → ``str`` or ``bytes``:
- ``arrayrecord``: one serialized ``tf.train.Example`` a record (every feature a ``bytes_list``
  of one value, strings UTF-8), written with ``group_size:1`` for random access: what TFDS,
  seqio and MaxText's Grain pipelines read;
- ``tfrecord``: the same ``tf.train.Example``s in TFRecord framing;
- ``parquet``: one column a feature (``string`` or ``binary``);
- ``webdataset``: a tar with one member a feature, ``<key>.<feature>``, keys in row order.

Every writer is deterministic: the same rows give the same bytes. The Example protobuf class is
the one the ``tfrecord`` package ships (TensorFlow's ``example.proto``, without TensorFlow).
"""
from __future__ import annotations

import io
import os
import struct
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = {"arrayrecord": ".array_record", "tfrecord": ".tfrecord", "parquet": ".parquet",
           "webdataset": ".tar"}
DEFAULT_FORMAT = "arrayrecord"
RANDOM_ACCESS = ("arrayrecord", "parquet")  # what the read-side sampler opens


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown shard format {fmt!r}; expected one of {sorted(FORMATS)}")
    return fmt


def shard_name(index: int, count: int, fmt: str) -> str:
    return f"part-{index:05d}-of-{count:05d}{FORMATS[check_format(fmt)]}"


def to_example(row: dict) -> bytes:
    """A row → a serialized ``tf.train.Example`` (each value a one-element ``bytes_list``)."""
    from tfrecord import example_pb2

    example = example_pb2.Example()
    for name, value in row.items():
        example.features.feature[name].bytes_list.value.append(
            value.encode("utf-8") if isinstance(value, str) else value)
    return example.SerializeToString(deterministic=True)


def from_example(data: bytes, types: dict[str, type]) -> dict:
    """A serialized ``tf.train.Example`` → a row of the features ``types`` names."""
    from tfrecord import example_pb2

    feature = example_pb2.Example.FromString(data).features.feature
    row = {}
    for name, kind in types.items():
        (value,) = feature[name].bytes_list.value
        row[name] = value.decode("utf-8") if kind is str else value
    return row


def write_shard(path: str, rows: list[dict], types: dict[str, type], fmt: str) -> None:
    """Write ``rows`` (features ``types``: name → str or bytes) to ``path`` in ``fmt``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)  # ArrayRecord and tfrecord: local paths
    WRITERS[check_format(fmt)](path, rows, types)


def _arrayrecord(path: str, rows: list[dict], types) -> None:
    from array_record.python.array_record_module import ArrayRecordWriter

    writer = ArrayRecordWriter(path, "group_size:1")
    for row in rows:
        writer.write(to_example(row))
    writer.close()


def _tfrecord(path: str, rows: list[dict], types) -> None:
    """TFRecord framing: length, its masked CRC32C, the data, its masked CRC32C (the
    ``tfrecord`` package's writer builds its own Examples, so only its CRC is used here)."""
    from tfrecord import TFRecordWriter

    with open(path, "wb") as f:
        for row in rows:
            data = to_example(row)
            length = struct.pack("<Q", len(data))
            f.write(length + TFRecordWriter.masked_crc(length) + data
                    + TFRecordWriter.masked_crc(data))


def arrow_types(types: dict[str, type]) -> pa.Schema:
    return pa.schema([(name, pa.string() if kind is str else pa.binary())
                      for name, kind in types.items()])


def _parquet(path: str, rows: list[dict], types) -> None:
    """An empty shard has no row group (Hugging Face ``datasets`` fails on an empty one)."""
    schema = arrow_types(types)
    if not rows:
        pq.ParquetWriter(path, schema).close()
        return
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _webdataset(path: str, rows: list[dict], types) -> None:
    """A tar written with fixed metadata (no clock time, owner or mode of this machine), so
    the same rows give the same bytes. By hand with tarfile: webdataset's TarWriter stamps
    the current time."""
    base = os.path.splitext(os.path.basename(path))[0]
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i, row in enumerate(rows):
            for name, value in row.items():
                data = value.encode("utf-8") if isinstance(value, str) else value
                info = tarfile.TarInfo(f"{base}-{i:07d}.{name}")
                info.size, info.mtime, info.mode = len(data), 0, 0o444
                tar.addfile(info, io.BytesIO(data))


WRITERS = {"arrayrecord": _arrayrecord, "tfrecord": _tfrecord, "parquet": _parquet,
           "webdataset": _webdataset}
