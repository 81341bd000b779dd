"""Fine-tuning files are checked line by line, with every error named by its line."""

from __future__ import annotations

import json

import pytest

from cluster.errors import InvalidRequest
from cluster.finetune.validation import MAX_REPORTED, ChatFileCheck
from tests.finetune import parrot


def check(text: str, piece: int = 7) -> int:
    checker = ChatFileCheck()
    data = text.encode()
    for start in range(0, len(data), piece):  # any split into chunks gives the same verdict
        checker.feed(data[start : start + piece])
    return checker.finish()


def test_a_valid_chat_file_counts_its_examples() -> None:
    text = "".join(json.dumps(row) + "\n" for row in parrot.rows())
    assert check(text) == len(parrot.rows())
    assert check(text.rstrip("\n")) == len(parrot.rows())  # no newline at the end
    assert check("\n" + text + "\n\n") == len(parrot.rows())  # blank lines are skipped


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "line 2: not JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"prompt": "a", "completion": "b"}', "line 2: expected a non-empty 'messages' list"),
        ('{"messages": []}', "line 2: expected a non-empty 'messages' list"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "messages[0].role must be one of"),
        ('{"messages": [{"role": "user", "content": 3}]}', "messages[0].content must be a string"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "no assistant message to learn from"),
        ('{"messages": [{"role": "user", "content": "a", "colour": 1}]}', "unknown keys ['colour']"),
        ('{"messages": [{"role": "user", "content": "a", "weight": 1}]}', "weight is only allowed on assistant"),
        ('{"messages": [{"role": "assistant", "content": "a", "weight": 2}]}', "weight must be 0 or 1"),
    ],
)
def test_each_kind_of_bad_line_is_named(line: str, expected: str) -> None:
    good = json.dumps(parrot.rows()[0])
    with pytest.raises(InvalidRequest) as caught:
        check(f"{good}\n{line}\n{good}\n")
    assert expected in caught.value.message
    assert caught.value.code == "invalid_file" and caught.value.status == 400


def test_many_errors_are_reported_at_once_up_to_a_limit() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check("nope\n" * 25)
    message = caught.value.message
    assert "line 1:" in message and f"line {MAX_REPORTED}:" in message
    assert f"line {MAX_REPORTED + 1}:" not in message and f"and {25 - MAX_REPORTED} more" in message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="no examples"):
        check("\n\n")
