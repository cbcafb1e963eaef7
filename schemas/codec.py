"""Bytes encoding of one record, for record-oriented shard formats (ArrayRecord, TFRecord).

A record is encoded as an Arrow IPC stream holding one row of the record's Arrow schema, so the
bytes carry their own schema and any Arrow reader can open them. Written here (rather than using
protobuf/tf.train.Example) to keep TensorFlow out of the project and the schema defined once.
"""
from __future__ import annotations

import pyarrow as pa

from schemas.arrow import arrow_schema, from_row, to_row


def encode(record) -> bytes:
    """One record → Arrow IPC stream bytes."""
    schema = arrow_schema(type(record))
    batch = pa.RecordBatch.from_pylist([to_row(record)], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def decode(cls, data: bytes):
    """Arrow IPC stream bytes → one record of ``cls``."""
    table = pa.ipc.open_stream(data).read_all()
    if table.num_rows != 1:
        raise ValueError(f"expected one {cls.__name__} per record, found {table.num_rows}")
    return from_row(cls, table.to_pylist()[0])
