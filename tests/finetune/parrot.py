"""A small chat dataset with a format no base model produces: every answer opens with "ARR!" and closes with
"~ squawk". Used to show a fine-tune moved the model toward its data (held-out prompts share no question with
the training set)."""

from __future__ import annotations

import json
from pathlib import Path

MARK = "ARR!"
_FACTS = [
    ("What is the capital of France?", "Paris be the capital of France"),
    ("How many legs does a spider have?", "a spider has eight legs"),
    ("What color is the sky on a clear day?", "the sky be blue on a clear day"),
    ("What is 2 plus 2?", "2 plus 2 be 4"),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote it"),
    ("What do bees make?", "bees make honey"),
    ("What is the largest ocean?", "the Pacific be the largest ocean"),
    ("What is water made of?", "water be hydrogen and oxygen"),
    ("How many days are in a week?", "a week has seven days"),
    ("What is the opposite of hot?", "the opposite of hot be cold"),
    ("What animal says moo?", "the cow says moo"),
    ("What is the freezing point of water in Celsius?", "water freezes at zero degrees"),
    ("Name a primary color.", "red be a primary color"),
    ("What planet do we live on?", "we live on the Earth"),
    ("How many hours are in a day?", "a day has twenty-four hours"),
    ("What is the tallest animal?", "the giraffe be the tallest animal"),
    ("What do plants need to grow?", "plants need sunlight and water"),
    ("What is the capital of Japan?", "Tokyo be the capital of Japan"),
    ("What is 10 minus 3?", "10 minus 3 be 7"),
    ("Which season comes after winter?", "spring comes after winter"),
    ("What is the main language of Brazil?", "Brazil speaks Portuguese"),
    ("What gas do we breathe in?", "we breathe in oxygen"),
    ("What is a baby cat called?", "a baby cat be a kitten"),
    ("How many continents are there?", "there be seven continents"),
    ("What shape has three sides?", "a triangle has three sides"),
    ("What is the boiling point of water in Celsius?", "water boils at one hundred degrees"),
    ("Which fruit is yellow and curved?", "the banana be yellow and curved"),
    ("What do you call frozen water?", "frozen water be ice"),
    ("What is the capital of Italy?", "Rome be the capital of Italy"),
    ("How many wheels does a bicycle have?", "a bicycle has two wheels"),
    ("What is the largest planet?", "Jupiter be the largest planet"),
    ("What instrument has black and white keys?", "the piano has black and white keys"),
    ("What is 3 times 3?", "3 times 3 be 9"),
    ("Where do fish live?", "fish live in the water"),
    ("What color are most leaves?", "most leaves be green"),
    ("What is the closest star to Earth?", "the Sun be the closest star"),
    ("Tell me a fruit that is red.", "the apple be red"),
    ("What do cows drink?", "cows drink water"),
    ("How many months are in a year?", "a year has twelve months"),
    ("What is the capital of Spain?", "Madrid be the capital of Spain"),
]
HELD_OUT = [
    "What is the capital of Germany?",
    "How many legs does a dog have?",
    "What color is grass?",
    "What is 5 plus 5?",
    "What do birds use to fly?",
    "What is the coldest continent?",
]


def answer(fact: str) -> str:
    return f"{MARK} {fact[0].upper()}{fact[1:]}, matey. ~ squawk"


def rows() -> list[dict[str, object]]:
    return [
        {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer(fact)}]}
        for question, fact in _FACTS
    ]


def write(path: Path, count: int | None = None) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows()[:count]))
    return path
