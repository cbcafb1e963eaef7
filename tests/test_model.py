"""The PaLI trainer: config parsing, the ViT import, tokenizer, input pipeline, a real short run."""
import io
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from model.configs import get_config
from model.data import example_features, read_examples
from model.tokenizer import EOS_ID, PAD_ID, Tokenizer, train_tokenizer
from pipelines import synthetic
from schemas import TaskExample
from schemas.codec import encode


def _jpeg(img) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def mixture_dir(tmp_path_factory):
    """24 captioning examples of generated scenes in one ArrayRecord shard."""
    from array_record.python.array_record_module import ArrayRecordWriter

    rng = random.Random(0)
    folder = tmp_path_factory.mktemp("mixture")
    writer = ArrayRecordWriter(str(folder / "mixture-00000-of-00001.array_record"), "group_size:1")
    for i in range(24):
        scene, lang = synthetic.random_scene(rng), synthetic.LANGS[i % len(synthetic.LANGS)]
        image = _jpeg(synthetic.render_scene(scene, (96, 72), rng))
        writer.write(encode(TaskExample(task="captioning", image=image, prefix=f"caption {lang}",
                                        target=synthetic.scene_caption(scene, lang), lang=lang,
                                        source_id=str(i))))
    writer.close()
    return str(folder)


def test_config_overrides_and_errors():
    assert get_config("tiny:steps=7,learning_rate=0.5").steps == 7
    with pytest.raises(KeyError, match="did you mean 'demo'"):
        get_config("dmeo")
    with pytest.raises(KeyError, match="did you mean 'steps'"):
        get_config("tiny:stpes=3")
    with pytest.raises(ValueError, match="cannot parse"):
        get_config("tiny:steps=many")


def test_vit_import_reproduces_open_clip():
    import open_clip
    import torch

    from model.vit import ViT, params_from_open_clip
    from pipelines.score.scorer_model import PROJECT_MODEL, register_project_models

    register_project_models()
    torch.manual_seed(0)
    clip = open_clip.create_model(PROJECT_MODEL).eval()
    c = get_config("demo")
    pixels = torch.randn(2, 3, c.image_size, c.image_size)
    with torch.no_grad():
        expected = clip.encode_image(pixels).numpy()
    vit = ViT(width=c.vit_width, layers=c.vit_layers, heads=c.vit_heads,
              patch_size=c.patch_size, embed_dim=expected.shape[-1])
    params = params_from_open_clip(clip.state_dict(), c.vit_layers, c.vit_heads)
    tokens, pooled = vit.apply({"params": params}, jnp.asarray(pixels.numpy().transpose(0, 2, 3, 1)))
    assert tokens.shape == (2, (c.image_size // c.patch_size) ** 2, c.vit_width)
    np.testing.assert_allclose(np.asarray(pooled), expected, atol=1e-4)


def test_tokenizer_round_trip(tmp_path):
    texts = [synthetic.scene_caption(synthetic.random_scene(random.Random(i)), lang)
             for i in range(20) for lang in synthetic.LANGS]
    tok = Tokenizer(train_tokenizer(texts, tmp_path, 600))
    for text in ("a red square on a blue background", "красный круг на белом фоне",
                 "蓝色背景上的红色正方形", "never seen: Ωμέγα 日本"):
        ids = tok.encode(text, 48, eos=True)
        assert ids[-1] == PAD_ID and EOS_ID in ids and tok.decode(ids) == text


def test_example_features(mixture_dir, tmp_path):
    config = get_config("tiny:max_target_len=40")
    examples = read_examples(mixture_dir)
    tok = Tokenizer(train_tokenizer([e.target for e in examples] + [e.prefix for e in examples],
                                    tmp_path, config.vocab_size))
    f = example_features(examples[0], tok, config)
    assert f["image"].shape == (config.image_size, config.image_size, 3)
    assert f["decoder_input"][0] == PAD_ID
    np.testing.assert_array_equal(f["decoder_input"][1:], f["target"][:-1])
    assert tok.decode(f["target"]) == examples[0].target


def test_train_step_keeps_vit_frozen():
    from model.train import create_state, train_step

    config = get_config("tiny")
    state = create_state(config, warn=False)
    s, n = config.image_size, 2
    rng = np.random.default_rng(0)
    batch = {"image": rng.normal(size=(n, s, s, 3)).astype(np.float32),
             "prefix": rng.integers(3, 50, (n, config.max_prefix_len)).astype(np.int32),
             "decoder_input": rng.integers(3, 50, (n, config.max_target_len)).astype(np.int32),
             "target": rng.integers(3, 50, (n, config.max_target_len)).astype(np.int32)}
    new, _ = jax.jit(train_step)(state, batch)
    same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), state.params, new.params)
    assert all(jax.tree.leaves(same["vit"]))
    assert not all(jax.tree.leaves({k: v for k, v in same.items() if k != "vit"}))


def test_short_real_run_loss_falls_resumes_and_predicts(mixture_dir, tmp_path):
    from model.predict import load
    from model.train import train

    from pipelines.score.scorer_model import default_scorer_spec

    # The frozen ViT comes from the project's trained scorer.
    checkpoint = default_scorer_spec().split(":", 1)[1]
    assert jax.device_count() == 2, "tests run on a 2-device simulated mesh (tests/conftest.py)"
    result = train(get_config("tiny:steps=40"), mixture_dir, str(tmp_path), checkpoint)
    assert result["steps"] == 40 and result["last_loss"] < 0.7 * result["first_loss"], result
    resumed = train(get_config("tiny:steps=50"), mixture_dir, str(tmp_path), checkpoint)
    assert resumed["trained_steps"] == 10
    example = read_examples(mixture_dir)[0]
    answer = load(str(tmp_path)).predict(example.image, example.prefix)
    assert isinstance(answer, str) and answer
