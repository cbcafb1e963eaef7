"""T5 span corruption: the counts T5's defaults fix, a round trip back to the text, exact strings."""
import random
import re

import pytest

from pipelines.mixture.span_corruption import corrupt, noise_spans, units
from pipelines.mixture.tasks import TASKS, NotApplicable, task_rng
from schemas import PageText

SENTINEL = re.compile(r"<extra_id_(\d+)>")


def _restore(inputs: str, target: str, joiner: str) -> str:
    """The text back from (input, target): each sentinel of the input replaced by its span."""
    pieces = SENTINEL.split(target)[1:]  # id, span, id, span, …, last id, ""
    hidden = {int(pieces[i]): pieces[i + 1].strip(joiner or None) for i in range(0, len(pieces), 2)}
    restored = SENTINEL.sub(lambda m: joiner + hidden[int(m.group(1))] + joiner, inputs)
    return joiner.join(restored.split()) if joiner else restored


@pytest.mark.parametrize("n", [2, 5, 11, 20, 64, 100, 256, 1000])
def test_noise_counts_are_t5s(n):
    """T5: round(n x 0.15) noise units (at least 1, at most n - 1), in round(noise / 3) spans
    (at least 1), non-empty, apart, none at the very start."""
    for seed in range(20):
        spans = noise_spans(n, random.Random(seed))
        noise = min(max(round(n * 0.15), 1), n - 1)
        assert sum(end - start for start, end in spans) == noise
        assert len(spans) == max(1, round(noise / 3))
        assert all(start < end for start, end in spans) and spans[0][0] > 0
        assert all(a_end < b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
        assert spans[-1][1] <= n


@pytest.mark.parametrize("text,lang,joiner", [
    ("The quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun " * 4,
     "", " "),
    ("我们今天去公园散步然后回家吃饭晚上一起看电影", "zh", ""),
])
def test_round_trip_to_the_text(text, lang, joiner):
    words, found_joiner = units(text, lang)
    assert found_joiner == joiner
    for seed in range(10):
        inputs, target = corrupt(words, joiner, random.Random(seed))
        ids = [int(i) for i in SENTINEL.findall(target)]
        assert ids == list(range(len(ids))) == [int(i) for i in SENTINEL.findall(inputs)] + [ids[-1]]
        assert target.endswith(f"<extra_id_{ids[-1]}>")
        assert _restore(inputs, target, joiner) == joiner.join(words)


def test_exact_strings_for_a_seed():
    """Seed 3 over 20 words: 3 noise words in 1 span (T5 ends a single span's run with it)."""
    words = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
            "fifteen sixteen seventeen eighteen nineteen twenty".split()
    assert corrupt(words, " ", random.Random(3)) == (
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen <extra_id_0>",
        "<extra_id_0> eighteen nineteen twenty <extra_id_1>")
    inputs, target = corrupt(words * 3, " ", random.Random(3))  # 60 words: 9 noise, 3 spans
    assert SENTINEL.findall(inputs) == ["0", "1", "2"] and len(target.split()) == 9 + 4


def test_span_corruption_task_chunks_long_texts():
    task = TASKS.get("span_corruption")
    assert task.source == "text"
    text = PageText(url="https://an.wikipedia.org/wiki/Escopete",
                    text=" ".join(f"w{i}" for i in range(600)))
    examples = task(text, task_rng("span_corruption", text.url))
    assert [len(_restore(e.prefix, e.target, " ").split()) for e in examples] == [256, 256, 88]
    assert {e.image for e in examples} == {b""} and len({e.source_id for e in examples}) == 3
    long = PageText(url="u", text="word " * 5000)
    assert len(task(long, task_rng("span_corruption", "u"))) == 8  # at most 8 chunks a text
    assert task(PageText(url="v", text="too short"), task_rng("span_corruption", "v")) == (
        NotApplicable("text_too_short"))
