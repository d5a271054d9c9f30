"""Finding the transfer-list item a request is about: typical phrases as substrings (one automaton
pass), and, when no phrase is found, the words the request shares with an item's name and scope."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

from modules.triage.features import tokens

TEMPLATE = Path(__file__).resolve().parent / "data" / "template.json"

# Words too common in requests to tell matters apart.
_STOP = frozenset("的 了 在 是 我 我们 你们 他们 有 和 与 或 等 及 人 个 这 那 就 也 都 不 没 没有 要 想 问 "
                  "一下 一个 什么 怎么 为什么 还 又 很 太 被 把 给 让 说 到 对 从 向 其他 相关 方面 问题 "
                  "事项 情况 需要 进行 涉及 包括 非 紧急 求助 咨询 投诉 举报 建议 诉求 反映 来电 来电人".split())


@dataclass(frozen=True)
class Matter:
    """What triage needs of a list item, with the units already resolved for the asking tenant."""

    key: str
    matter: str
    category: str
    platform: str
    channel: str | None
    units: tuple[str, ...]
    deadline_working_days: int | None
    phrases: tuple[str, ...]
    covers: str = ""


@dataclass
class Match:
    matter: Matter
    phrases: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)


class Matcher:
    def __init__(self, matters: list[Matter]):
        self.matters = matters
        self.automaton = ahocorasick.Automaton()
        by_phrase: dict[str, list[int]] = {}
        for i, matter in enumerate(matters):
            for phrase in matter.phrases:
                if phrase:
                    by_phrase.setdefault(phrase, []).append(i)
        for phrase, indexes in by_phrase.items():
            self.automaton.add_word(phrase, (phrase, tuple(indexes), 1.0 + len(phrase)))
        if by_phrase:
            self.automaton.make_automaton()
        self.has_phrases = bool(by_phrase)
        # Inverse document frequency of each word of an item's name and scope.
        postings: dict[str, set[int]] = {}
        for i, matter in enumerate(matters):
            for word in tokens(matter.matter + "。" + matter.covers):
                if len(word) > 1 and word not in _STOP:
                    postings.setdefault(word, set()).add(i)
        n = max(len(matters), 1)
        # Words shared by many items tell nothing: only those of at most a tenth of the items count.
        self.words = {w: (tuple(ix), math.log(1 + n / len(ix))) for w, ix in postings.items()
                      if len(ix) <= max(2, n // 10)}

    @classmethod
    def from_template(cls, path: Path = TEMPLATE) -> Matcher:
        """The shipped province template's items, with their department fragments as the units
        (no tenant's units: for the benchmark and the tests of the engine alone)."""
        body = json.loads(path.read_text(encoding="utf-8"))
        return cls([Matter(key=i["key"], matter=i["matter"], category=i["category"], platform=i["platform"],
                           channel=i.get("channel"),
                           units=tuple(i.get("departments") or ())[:1],
                           deadline_working_days=i.get("deadline_working_days"), phrases=tuple(i["phrases"]),
                           covers=i.get("covers", "")) for i in body["items"]])

    def scan(self, text: str, words: list[str]) -> Scan:
        """Score every item once: by the phrases found in the text, or, when none is, by the words
        the request shares with items' names and scopes."""
        scores: dict[int, float] = {}
        phrases: dict[int, list[str]] = {}
        if self.has_phrases:
            for _end, (phrase, indexes, weight) in self.automaton.iter(text):
                for i in indexes:
                    found = phrases.get(i)
                    if found is None:
                        phrases[i] = [phrase]
                        scores[i] = weight
                    elif phrase not in found:
                        found.append(phrase)
                        scores[i] += weight
        shared: dict[int, list[str]] = {}
        if not scores:
            postings = self.words
            for word in set(words):
                posting = postings.get(word)
                if posting is not None:
                    indexes, idf = posting
                    for i in indexes:
                        scores[i] = scores.get(i, 0.0) + idf
                        shared.setdefault(i, []).append(word)
        return Scan(self.matters, scores, phrases, shared)


@dataclass
class Scan:
    matters: list[Matter]
    scores: dict[int, float]
    phrases: dict[int, list[str]]
    shared: dict[int, list[str]]

    def best(self, platforms: frozenset[str] | None = None) -> Match | None:
        scores = self.scores
        if platforms is not None:
            scores = {i: v for i, v in scores.items() if self.matters[i].platform in platforms}
        if not scores:
            return None
        top = max(scores, key=lambda i: (scores[i], -i))
        if top not in self.phrases and scores[top] < 2.5:  # one shared common word is not a match
            return None
        return Match(self.matters[top], self.phrases.get(top, []), self.shared.get(top, []))
