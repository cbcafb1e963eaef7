"""The NSFW plug-in: an ONNX classifier built here, and open_clip zero-shot with the
project's scorer, through the classifier, the safety stage and ``openwebli filter``."""
import io
import random

import numpy as np
import pytest
from PIL import Image

from pipelines.cli import main
from pipelines.corpus_io import read_records
from pipelines.safety.nsfw import NsfwConfig, OnnxClassifier, read_prompts
from schemas import AnnotatedPair, Rejection
from tests.test_safety_stage import _jpeg, _pair, _write_folder

RED, BLUE = (220, 30, 30), (30, 40, 220)


def _red_detector(path, layout="NCHW", probabilities=False):
    """A real ONNX graph: the mean colour → 2 logits, class 1 ("unsafe") when red beats the
    mean of green and blue (so a red image is "unsafe" and a blue one is not)."""
    from onnx import TensorProto, helper, save

    axes = [2, 3] if layout == "NCHW" else [1, 2]
    shape = ["n", 3, 16, 16] if layout == "NCHW" else ["n", 16, 16, 3]
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [-8, 8, 4, -4, 4, -4])
    axes_t = helper.make_tensor("axes", TensorProto.INT64, [2], axes)
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0),
             helper.make_node("MatMul", ["m", "w"], ["logits"])]
    out = "logits"
    if probabilities:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
        out = "probs"
    graph = helper.make_graph(nodes, "red", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, shape)], [helper.make_tensor_value_info(
            out, TensorProto.FLOAT, ["n", 2])], initializer=[w, axes_t])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


@pytest.mark.parametrize("layout, probabilities", [("NCHW", False), ("NHWC", True)])
def test_onnx_classifier_reads_layout_and_scores(tmp_path, layout, probabilities):
    path = _red_detector(tmp_path / "m.onnx", layout, probabilities)
    classify = OnnxClassifier(str(path), NsfwConfig(model=f"onnx:{path}"))
    assert (classify.size, classify.nhwc) == (16, layout == "NHWC")
    red, blue = Image.new("RGB", (40, 30), RED), Image.new("RGB", (40, 30), BLUE)
    # Expected from the graph: normalised channel means r, g, b → softmax(8r − 4(g + b)) etc.
    norm = lambda c: (np.array(c) / 255 - 0.5) / 0.5
    logit = lambda c: 16 * norm(c)[0] - 8 * (norm(c)[1] + norm(c)[2])
    expected = [1 / (1 + np.exp(-logit(c))) for c in (RED, BLUE)]
    np.testing.assert_allclose(classify([red, blue]), expected, rtol=1e-4)


def test_filter_drops_what_the_onnx_classifier_flags(tmp_path, capsys):
    model = _red_detector(tmp_path / "m.onnx")
    pairs = [_pair(0, image_bytes=_jpeg(RED)), _pair(1, image_bytes=_jpeg(BLUE)),
             _pair(2, image_bytes=_jpeg(BLUE), alt_text="xxx videos")]
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    _write_folder(corpus, pairs)
    assert main(["filter", "--input", str(corpus), "--output", str(out), "--faces", "keep",
                 "--nsfw", f"onnx:{model}", "--nsfw-threshold", "0.9"]) == 0
    assert ("safety           3       1         2  nsfw_image=1, unsafe_text=1"
            in capsys.readouterr().out)
    assert [p.pair_id for p in read_records(str(out), AnnotatedPair)] == ["p1"]
    rejects = {r.record_id: r for r in read_records(str(out / "rejects"), Rejection)}
    assert rejects["p0"].reason == "nsfw_image" and float(rejects["p0"].detail) > 0.99


def test_nsfw_spec_and_prompt_errors(tmp_path, capsys):
    with pytest.raises(ValueError, match="give onnx:PATH or clip:MODEL"):
        NsfwConfig(model="nsfw.onnx")
    prompts = tmp_path / "p.txt"
    prompts.write_text("unsafe: a red circle\nmaybe: a square\n")
    with pytest.raises(ValueError, match="p.txt:2: 'maybe: a square' is not"):
        read_prompts(str(prompts))
    assert main(["filter", "--input", "x", "--output", "y", "--nsfw", "onnx:/no/m.onnx"]) == 2
    assert "no such ONNX file" in capsys.readouterr().err


@pytest.mark.slow  # the project's scorer
def test_zero_shot_with_an_open_clip_model_and_prompts(tmp_path):
    """The project's scorer knows generated shapes, not nudity: prompts about red circles
    prove the zero-shot path with a real model (a real NSFW prompt set needs a real CLIP)."""
    from pipelines import synthetic
    from pipelines.safety.nsfw import ZeroShotClassifier
    from pipelines.score.scorer_model import default_scorer_spec

    config = NsfwConfig(model="clip:" + default_scorer_spec(),
                        unsafe_prompts=("a red circle on a white background",),
                        safe_prompts=("a blue square on a white background",))
    classify = ZeroShotClassifier(default_scorer_spec(), config)
    rng = random.Random(0)
    images = [synthetic.render_scene(synthetic.Scene(shape, color, "white"), (72, 72), rng)
              for shape, color in [("circle", "red")] * 4 + [("square", "blue")] * 4]
    unsafe = classify(images)
    assert (unsafe[:4] > 0.5).all() and (unsafe[4:] < 0.5).all(), unsafe
