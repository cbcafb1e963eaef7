"""The SentencePiece tokenizer: fixed ids, any script round-trips, fixed-length encoding."""
import random

import pytest

from model.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, train_tokenizer
from pipelines import synthetic


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return Tokenizer(train_tokenizer(_texts(), tmp_path_factory.mktemp("tok"), 600))


def _texts() -> list[str]:
    return [synthetic.scene_caption(synthetic.random_scene(random.Random(i)), lang)
            for i in range(20) for lang in synthetic.LANGS]


def test_special_ids_and_vocabulary(tokenizer):
    sp = tokenizer.sp
    assert (sp.pad_id(), sp.eos_id(), sp.unk_id(), sp.bos_id()) == (PAD_ID, EOS_ID, UNK_ID, BOS_ID)
    pieces = [sp.id_to_piece(i) for i in range(tokenizer.vocab_size)]
    # Byte fallback and full character coverage: the 256 byte pieces and every character of the
    # texts (a space is "▁") are pieces, beside the 4 specials. 600 is a soft upper limit.
    chars = {c for text in _texts() for c in text.replace(" ", "▁")}
    assert sum(p.startswith("<0x") for p in pieces) == 256 and chars <= set(pieces)
    assert 4 + 256 + len(chars) <= tokenizer.vocab_size <= 600
    assert len(set(pieces)) == len(pieces) > 4 + 256 + len(chars)  # and some longer pieces


@pytest.mark.parametrize("text", [
    "a red square on a blue background",
    "красный круг на белом фоне",
    "蓝色背景上的红色正方形",
    "never seen: Ωμέγα 日本 🙂",  # unseen characters fall back to bytes
])
def test_round_trip(tokenizer, text):
    ids = tokenizer.encode(text, 64, eos=True)
    assert len(ids) == 64 and ids[-1] == PAD_ID and EOS_ID in ids
    assert UNK_ID not in ids
    assert tokenizer.decode(ids) == text


def test_truncation_keeps_eos(tokenizer):
    ids = tokenizer.encode("a red square on a blue background " * 5, 8, eos=True)
    assert len(ids) == 8 and ids[-1] == EOS_ID
    assert PAD_ID not in tokenizer.encode("a red square on a blue background " * 5, 8)


def test_no_text_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no text"):
        train_tokenizer(["", "  "], tmp_path, 300)
