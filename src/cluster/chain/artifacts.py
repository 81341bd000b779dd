"""The compiled contracts the service loads at run time (committed; see ``compile.py``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils.abi import event_abi_to_log_topic, function_signature_to_4byte_selector

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load(name: str) -> Artifact:
    data = json.loads((ARTIFACTS / f"{name}.json").read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])


def manifest() -> dict[str, Any]:
    result: dict[str, Any] = json.loads((ARTIFACTS / "manifest.json").read_text())
    return result


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(canonical_type(i) for i in entry['inputs'])})"


def canonical_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(canonical_type(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return kind


@cache
def custom_errors() -> dict[bytes, tuple[str, list[dict[str, Any]]]]:
    """Every custom error any of our contracts (or OpenZeppelin under them) can raise, by 4-byte selector."""
    errors: dict[bytes, tuple[str, list[dict[str, Any]]]] = {}
    for name in manifest()["contracts"]:
        for entry in load(name).abi:
            if entry["type"] == "error":
                errors[function_signature_to_4byte_selector(_signature(entry))] = (entry["name"], entry["inputs"])
    return errors


def event_topics(abi: Sequence[Any]) -> dict[bytes, dict[str, Any]]:
    return {event_abi_to_log_topic(entry): entry for entry in abi if entry["type"] == "event"}
