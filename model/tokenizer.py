"""SentencePiece tokenizer trained on the mixture's text (T5's ids: pad 0, eos 1, unk 2; bos 3,
reserved and unused — the decoder starts from pad, as in T5)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import numpy as np
import sentencepiece as spm

PAD_ID, EOS_ID, UNK_ID, BOS_ID = 0, 1, 2, 3
MODEL_FILE = "tokenizer.model"


def train_tokenizer(texts: Iterable[str], workdir: str | Path, vocab_size: int) -> Path:
    """Train a unigram model into ``workdir``. Byte fallback and full character coverage let any
    script encode; the vocabulary limit is soft because a small corpus has few pieces."""
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("no text to train the tokenizer on")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, byte_fallback=True,
        hard_vocab_limit=False, pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=BOS_ID,
        minloglevel=2)
    path = Path(workdir) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.getvalue())
    return path


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
