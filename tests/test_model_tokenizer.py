"""The SentencePiece tokenizer: fixed ids, any script round-trips, fixed-length encoding."""
import random

import pytest

from model.tokenizer import (
    BOS_ID, EOS_ID, EXTRA_TOKENS, PAD_ID, UNK_ID, Tokenizer, load_tokenizer, train_tokenizer,
)
from pipelines import synthetic


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return Tokenizer(train_tokenizer(_texts(), tmp_path_factory.mktemp("tok"), 600 + 1124))


def _texts() -> list[str]:
    return [synthetic.scene_caption(synthetic.random_scene(random.Random(i)), lang)
            for i in range(20) for lang in synthetic.LANGS]


def test_special_ids_and_vocabulary(tokenizer):
    sp = tokenizer.sp
    assert (sp.pad_id(), sp.eos_id(), sp.unk_id(), sp.bos_id()) == (PAD_ID, EOS_ID, UNK_ID, BOS_ID)
    pieces = [sp.id_to_piece(i) for i in range(tokenizer.vocab_size)]
    # Byte fallback and full character coverage: the 256 byte pieces and every character of the
    # texts (a space is "▁") are pieces, beside the 4 specials; then the 100 sentinels and 1,024
    # location tokens, last. 600 + 1,124 is a soft upper limit.
    chars = {c for text in _texts() for c in text.replace(" ", "▁")}
    assert sum(p.startswith("<0x") for p in pieces) == 256 and chars <= set(pieces)
    assert 4 + 256 + len(chars) + 1124 <= tokenizer.vocab_size <= 600 + 1124
    assert len(set(pieces)) == len(pieces) > 4 + 256 + len(chars) + 1124  # and longer pieces
    assert pieces[-1124:] == list(EXTRA_TOKENS)
    assert pieces[-1124:-1120] == ["<extra_id_0>", "<extra_id_1>", "<extra_id_2>", "<extra_id_3>"]
    assert pieces[-1] == "<loc1023>" and pieces[-1024] == "<loc0000>"


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
    with pytest.raises(ValueError, match="vocab_size 1200 leaves 76 pieces beside the 1124"):
        train_tokenizer(_texts(), tmp_path, 1200)


def test_sentinels_and_location_tokens_are_single_pieces(tokenizer):
    sp = tokenizer.sp
    text = "<loc0255><loc0140><loc0996><loc0673> dog ; the <extra_id_0> fox <extra_id_99>"
    pieces = [sp.id_to_piece(i) for i in sp.encode(text)]
    for token in ("<loc0255>", "<loc0140>", "<loc0996>", "<loc0673>", "<extra_id_0>",
                  "<extra_id_99>"):
        assert pieces.count(token) == 1
    assert tokenizer.decode(tokenizer.encode(text, 64, eos=True)) == text


def test_a_loaded_model_gets_the_extra_tokens_appended(tmp_path):
    """A SentencePiece model trained elsewhere (T5's ids, no extra tokens: as mT5's
    spiece.model) keeps its own pieces and ids, and gains the 1,124 at its end."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_texts()), model_writer=model, vocab_size=400,
        character_coverage=1.0, byte_fallback=True, hard_vocab_limit=False, pad_id=0, eos_id=1,
        unk_id=2, bos_id=-1,
        minloglevel=2)
    (tmp_path / "spiece.model").write_bytes(model.getvalue())
    original = spm.SentencePieceProcessor(model_proto=model.getvalue())
    loaded = Tokenizer(load_tokenizer(tmp_path / "spiece.model", tmp_path / "work"))
    n = original.get_piece_size()
    assert loaded.vocab_size == n + 1124
    assert [loaded.sp.id_to_piece(i) for i in range(n)] == [original.id_to_piece(i)
                                                            for i in range(n)]
    assert loaded.sp.encode("a red square") == original.encode("a red square")
    assert loaded.sp.encode("<loc0007>")[-1] == n + 100 + 7
    again = load_tokenizer(tmp_path / "work" / "tokenizer.model", tmp_path / "again")
    assert Tokenizer(again).vocab_size == n + 1124  # nothing appended twice
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_texts()), model_writer=(other := io.BytesIO()), vocab_size=400,
        character_coverage=1.0, hard_vocab_limit=False, pad_id=3, eos_id=1, unk_id=2, bos_id=0,
        minloglevel=2)
    (tmp_path / "other.model").write_bytes(other.getvalue())
    with pytest.raises(ValueError, match="pad, eos and unk ids are 3, 1, 2"):
        load_tokenizer(tmp_path / "other.model", tmp_path / "x")


def test_extra_tokens_are_not_learnt_in_fragments(tmp_path):
    """Detection targets full of location tokens: the trained pieces hold no fragment of them
    (each is one appended piece), and the words around them keep whole pieces."""
    rng = random.Random(0)
    box = lambda: "".join(f"<loc{rng.randrange(1024):04d}>" for _ in range(4))
    texts = [f"{box()} circle ; {box()} square" for _ in range(300)] + _texts()
    tok = Tokenizer(train_tokenizer(texts, tmp_path, 600 + 1124))
    learnt = [tok.sp.id_to_piece(i) for i in range(4 + 256, tok.vocab_size - 1124)]  # no specials, bytes
    assert not [p for p in learnt if "loc" in p or ">" in p]
    target = f"{box()} circle ; {box()} square"
    pieces = [tok.sp.id_to_piece(i) for i in tok.sp.encode(target)]
    assert pieces[1:5] == [target[i:i + 9] for i in range(0, 36, 9)]  # "<loc0123>" each
    assert "▁circle" in pieces and "▁square" in pieces
