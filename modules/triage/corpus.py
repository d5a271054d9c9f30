"""The labelled corpus in `corpus/*.jsonl` (see corpus/README.md) and its fixed held-out split."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "corpus"
HELD_OUT_SHARE = 5  # one example in five, chosen by a hash of its id, is never trained on


@dataclass(frozen=True)
class Example:
    text: str
    platform: str
    emergency: bool
    kind: str
    id: str = ""
    channel: str | None = None
    style: str = "citizen"
    hard: bool = False


def held_out(example_id: str) -> bool:
    return int(hashlib.sha256(example_id.encode()).hexdigest()[:8], 16) % HELD_OUT_SHARE == 0


@cache
def load(folder: Path = FOLDER) -> tuple[Example, ...]:
    examples = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    examples.append(Example(
                        text=row["text"], platform=row["platform"], emergency=bool(row["emergency"]),
                        kind=row["kind"], id=row["id"], channel=row.get("channel"),
                        style=row.get("style", "citizen"), hard=bool(row.get("hard"))))
    return tuple(examples)


def training() -> list[Example]:
    return [e for e in load() if not held_out(e.id)]


def testing() -> list[Example]:
    return [e for e in load() if held_out(e.id)]


def fresh() -> tuple[Example, ...]:
    """A test set written apart from the corpus, after the engine was designed: never trained on."""
    return load(FOLDER / "test")
