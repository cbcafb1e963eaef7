"""The Flax ViT reproduces the scorer's open_clip tower: the proof that the import is right."""
import jax.numpy as jnp
import numpy as np
import pytest

from model.configs import get_config
from model.vit import ViT, params_from_open_clip
from tests.test_model_train import assert_same_tree

pytestmark = pytest.mark.slow  # open_clip's tower against the Flax ViT


@pytest.fixture(scope="module")
def clip():
    import open_clip
    import torch

    from pipelines.score.scorer_model import PROJECT_MODEL, register_project_models

    register_project_models()
    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms(PROJECT_MODEL)
    return model.eval()


def test_pooled_output_equals_encode_image(clip):
    import torch

    c = get_config("demo")
    generator = torch.Generator().manual_seed(1)
    pixels = torch.randn(3, 3, c.image_size, c.image_size, generator=generator)
    with torch.no_grad():
        expected = clip.encode_image(pixels).numpy()
    vit = ViT(width=c.vit_width, layers=c.vit_layers, heads=c.vit_heads,
              patch_size=c.patch_size, embed_dim=expected.shape[-1])
    params = params_from_open_clip(clip.state_dict(), heads=c.vit_heads)
    images = jnp.asarray(pixels.numpy().transpose(0, 2, 3, 1))  # NCHW → NHWC
    tokens, pooled = vit.apply({"params": params}, images)
    assert tokens.shape == (3, (c.image_size // c.patch_size) ** 2, c.vit_width)
    np.testing.assert_allclose(np.asarray(pooled), expected, atol=1e-4)


def test_import_from_module_or_state_dict(clip):
    from_model = params_from_open_clip(clip)
    from_visual = params_from_open_clip(clip.visual)
    from_dict = params_from_open_clip(clip.visual.state_dict(), heads=4)
    for other in (from_visual, from_dict):
        assert_same_tree(other, from_model)
    assert len([k for k in from_model if k.startswith("block_")]) == get_config("demo").vit_layers
    with pytest.raises(ValueError, match="heads"):
        params_from_open_clip(clip.state_dict())

