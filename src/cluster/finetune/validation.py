"""Chat JSONL for fine-tuning, checked line by line as OpenAI's format: each line an object with a non-empty
``messages`` list of ``{role, content}`` (roles system, user, assistant, tool), at least one assistant message,
``weight`` 0 or 1 on assistant messages. Errors name their line; up to ``MAX_REPORTED`` are reported at once so
a bad file is fixed in one round trip."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from cluster.errors import InvalidRequest

ROLES = frozenset({"system", "user", "assistant", "tool"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id"})
MAX_REPORTED = 10


@dataclass
class ChatFileCheck:
    examples: int = 0
    errors: list[str] = field(default_factory=list)
    _error_count: int = 0
    _line: int = 0
    _rest: bytes = b""

    def feed(self, chunk: bytes) -> None:
        """Any split of the file into chunks."""
        lines = (self._rest + chunk).split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            self._check_line(line)

    def finish(self) -> int:
        """The number of examples, or ``InvalidRequest`` listing the first errors."""
        if self._rest.strip():
            self._check_line(self._rest)
        self._rest = b""
        if not self._error_count and not self.examples:
            self._error("the file has no examples")
        if self._error_count:
            more = self._error_count - len(self.errors)
            listed = "; ".join(self.errors) + (f"; and {more} more" if more > 0 else "")
            raise InvalidRequest(f"invalid fine-tuning file: {listed}", param="file", code="invalid_file")
        return self.examples

    def _check_line(self, raw: bytes) -> None:
        self._line += 1
        if not raw.strip():
            return
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._error(f"line {self._line}: not JSON ({exc})")
            return
        problem = _problem(row)
        if problem is not None:
            self._error(f"line {self._line}: {problem}")
        else:
            self.examples += 1

    def _error(self, message: str) -> None:
        self._error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(message)


def _problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "expected a JSON object"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return "expected a non-empty 'messages' list"
    assistants = 0
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            return f"{where} is not an object"
        unknown = message.keys() - MESSAGE_KEYS
        if unknown:
            return f"{where} has unknown keys {sorted(unknown)}"
        role = message.get("role")
        if role not in ROLES:
            return f"{where}.role must be one of {sorted(ROLES)}, not {role!r}"
        content = message.get("content")
        if not isinstance(content, str) and not (role == "assistant" and message.get("tool_calls")):
            return f"{where}.content must be a string"
        if "weight" in message:
            if role != "assistant":
                return f"{where}.weight is only allowed on assistant messages"
            if message["weight"] not in (0, 1):
                return f"{where}.weight must be 0 or 1"
        if role == "assistant":
            assistants += 1
    if not assistants:
        return "no assistant message to learn from"
    return None
