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
