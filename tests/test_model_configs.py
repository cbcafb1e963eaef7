"""PaLI configs: named configs, overrides, and the errors a typo gets."""
import pytest

from model.configs import CONFIGS, PaliConfig, get_config


def test_names_and_overrides():
    assert get_config("demo") == CONFIGS["demo"]
    tiny = get_config("tiny:steps=7, learning_rate=0.5")
    assert (tiny.steps, tiny.learning_rate, tiny.d_model) == (7, 0.5, CONFIGS["tiny"].d_model)
    assert isinstance(tiny, PaliConfig)


@pytest.mark.parametrize("spec, error, message", [
    ("dmeo", KeyError, "did you mean 'demo'"),
    ("tiny:stpes=3", KeyError, "did you mean 'steps'"),
    ("tiny:steps", KeyError, "bad config override"),
    ("tiny:steps=many", ValueError, "cannot parse"),
    ("tiny:heads=3", ValueError, "d_model/heads"),
    ("tiny:steps=0", ValueError, "must be positive"),
])
def test_errors(spec, error, message):
    with pytest.raises(error, match=message):
        get_config(spec)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        get_config("tiny").steps = 3  # type: ignore[misc]


def _vit_formula(c) -> int:
    """open_clip's ViT counted by hand: patch conv (no bias), class token, positions, ln_pre,
    per block two LayerNorms, attention (q, k, v, out with biases), the MLP with biases; ln_post."""
    w, m, n = c.vit_width, c.vit_mlp_dim or 4 * c.vit_width, (c.image_size // c.patch_size) ** 2
    block = 2 * 2 * w + (4 * w * w + 4 * w) + (w * m + m + m * w + w)
    return c.patch_size ** 2 * 3 * w + w + (n + 1) * w + 2 * w + c.vit_layers * block + 2 * w


# The PaLI paper's figures (Chen et al. 2022): ViT-G 1.8B, ViT-e 3.9B, mT5-Large 1.2B,
# mT5-XXL 13B; PaLI-3B, -15B, -17B. The paper rounds: within 5%.
PAPER = {"pali-3b": (1.8e9, 1.2e9, 3e9), "pali-15b": (1.8e9, 13e9, 15e9),
         "pali-17b": (3.9e9, 13e9, 17e9)}


@pytest.mark.slow  # tracing 48 + 48 layers: ~6 s a preset
@pytest.mark.parametrize("name", sorted(PAPER))
def test_presets_have_the_papers_sizes(name):
    from model.pali import param_counts

    counts = param_counts(get_config(name))
    assert counts["vit"] == _vit_formula(get_config(name))
    for got, paper in zip((counts["vit"], counts["text"], counts["total"]), PAPER[name]):
        assert abs(got / paper - 1) <= 0.05, (name, got, paper)
    assert counts["total"] == counts["vit"] + counts["text"] + counts["image_projection"]


@pytest.mark.slow
def test_params_command_prints_the_counts(capsys):
    import json

    from model.pali import param_counts
    from pipelines.cli import main

    assert main(["params", "--config", "pali-3b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == param_counts(get_config("pali-3b"))
    assert main(["params", "--config", "tiny"]) == 0
    assert "total" in capsys.readouterr().out
