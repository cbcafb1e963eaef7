"""SentencePiece tokenizer trained on the mixture's text, or loaded from a model file such as
mT5's ``spiece.model`` (T5's ids: pad 0, eos 1, unk 2; bos 3 reserved and unused in trained
models — the decoder starts from pad, as in T5).

Either way the vocabulary ends with T5's 100 sentinels ``<extra_id_0>`` … ``<extra_id_99>`` and
PaLI's 1,024 location tokens ``<loc0000>`` … ``<loc1023>``, each a single piece wherever it
appears in a text (span corruption's and detection's targets).
"""
from __future__ import annotations

import io
import re
import struct
from pathlib import Path
from typing import Iterable

import numpy as np
import sentencepiece as spm

PAD_ID, EOS_ID, UNK_ID, BOS_ID = 0, 1, 2, 3
MODEL_FILE = "tokenizer.model"
SENTINELS = 100  # T5's
LOC_TOKENS = 1024  # PaLI's, as the mixture writes them (pipelines/mixture/tasks/objects.py)
EXTRA_TOKENS = tuple([f"<extra_id_{i}>" for i in range(SENTINELS)]
                     + [f"<loc{i:04d}>" for i in range(LOC_TOKENS)])
_USER_DEFINED = 4  # sentencepiece_model.proto's SentencePiece.Type
_EXTRA = re.compile(r"<extra_id_\d+>|<loc\d{4}>")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _piece_field(piece: str) -> bytes:
    """One ``ModelProto.pieces`` entry (field 1: piece 1, score 2, type 3) on the wire."""
    text = piece.encode("utf-8")
    inner = (b"\x0a" + _varint(len(text)) + text + b"\x15" + struct.pack("<f", 0.0)
             + b"\x18" + _varint(_USER_DEFINED))
    return b"\x0a" + _varint(len(inner)) + inner


def with_extra_tokens(model: bytes) -> bytes:
    """``model`` (a serialized SentencePiece ModelProto) with the ``EXTRA_TOKENS`` it lacks
    appended as user-defined pieces, in order, after its own. Written on the wire by hand: a
    protobuf message followed by more entries of a repeated field is that message with them
    appended, and sentencepiece's own ``sentencepiece_model_pb2`` needs a newer protobuf than
    Beam allows."""
    sp = spm.SentencePieceProcessor(model_proto=model)
    missing = [t for t in EXTRA_TOKENS if sp.piece_to_id(t) == sp.unk_id()]
    return model + b"".join(map(_piece_field, missing))


def _write(model: bytes, workdir: str | Path) -> Path:
    path = Path(workdir) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    return path


def train_tokenizer(texts: Iterable[str], workdir: str | Path, vocab_size: int) -> Path:
    """Train a BPE model into ``workdir``: ``vocab_size`` pieces at most, the 1,124 extra
    tokens among them. Byte fallback and full character coverage let any script encode; the
    limit is soft because a small corpus has few pieces.

    BPE rather than mT5's unigram: on the small, repetitive corpora a mixture gives, unigram
    training keeps few whole words (120 generated captions: "circle" and "background" stay 4
    pieces each at any vocabulary size; BPE makes each one piece), and every extra piece costs
    sequence length."""
    # The extra tokens are left out of what the trainer sees: appended afterwards as single
    # pieces, they would otherwise also be learnt in fragments ("<loc0", "12>"), crowding out
    # the words of the text.
    texts = [t for t in (_EXTRA.sub(" ", t) for t in texts) if t.strip()]
    if not texts:
        raise ValueError("no text to train the tokenizer on")
    base = vocab_size - len(EXTRA_TOKENS)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=model, vocab_size=max(base, 1),
            model_type="bpe", character_coverage=1.0, byte_fallback=True,
            hard_vocab_limit=False, pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=BOS_ID,
            minloglevel=2)
    except RuntimeError as e:
        raise ValueError(f"vocab_size {vocab_size} leaves {base} pieces beside the "
                         f"{len(EXTRA_TOKENS)} sentinels and location tokens, fewer than the "
                         f"text's bytes and characters need: raise vocab_size ({e})") from None
    return _write(with_extra_tokens(model.getvalue()), workdir)


def load_tokenizer(model_file: str | Path, workdir: str | Path) -> Path:
    """A SentencePiece model of T5's ids (mT5's ``spiece.model``, say) with the extra tokens
    appended, written into ``workdir``."""
    model = Path(model_file).read_bytes()
    sp = spm.SentencePieceProcessor(model_proto=model)
    if (sp.pad_id(), sp.eos_id(), sp.unk_id()) != (PAD_ID, EOS_ID, UNK_ID):
        raise ValueError(f"{model_file}: pad, eos and unk ids are {sp.pad_id()}, {sp.eos_id()}, "
                         f"{sp.unk_id()}; the model needs T5's {PAD_ID}, {EOS_ID}, {UNK_ID}")
    return _write(with_extra_tokens(model), workdir)


class Tokenizer:
    """A trained SentencePiece model with fixed-length encoding for the model's inputs."""

    def __init__(self, path: str | Path):
        self.sp = spm.SentencePieceProcessor(model_file=str(path))

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str, length: int, eos: bool = False) -> np.ndarray:
        """Token ids padded with PAD_ID (or cut) to ``length``; EOS appended when asked."""
        ids = self.sp.encode(text)[: length - 1 if eos else length]
        if eos:
            ids.append(EOS_ID)
        return np.array(ids + [PAD_ID] * (length - len(ids)), np.int32)

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if EOS_ID in ids:
            ids = ids[: ids.index(EOS_ID)]
        return self.sp.decode([i for i in ids if i != PAD_ID])
