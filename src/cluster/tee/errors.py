"""One failure type for every verification step, naming the step, so a verifier can say exactly what broke."""

from __future__ import annotations


class VerificationFailed(Exception):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message
