"""From a request's text to what the model and the rules read: words (rjieba), character pairs,
and the cue groups found in it."""
from __future__ import annotations

import zlib

import ahocorasick
import numpy as np
import rjieba

from modules.triage.cues import BY_NAME, DANGER, GROUPS, CueGroup

# Punctuation and spaces, half and full width: never a feature.
_SKIP = frozenset(" \t\r\n，。！？、；：“”‘’（）《》【】…—·,.!?;:'\"()[]<>~-_/\\|@#%&*+=")


def _cue_automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    words: dict[str, list[CueGroup]] = {}
    for group in GROUPS:
        for word in group.words:
            words.setdefault(word, []).append(group)
    for word, groups in words.items():
        automaton.add_word(word, (word, tuple(groups)))
    automaton.make_automaton()
    return automaton


CUES = _cue_automaton()


def cue_hits(text: str) -> dict[str, list[str]]:
    """Cue group name → the words of that group found in the text, in order, each once.

    Readings of position: a danger word inside a phrase that calls it off ("没有人受伤") or right
    after a negation ("没有漏气") counts as calling off; a danger named after a worry ("担心起火",
    "怕孩子受伤") is only a worry ("hypothetical"), while one stated before it ("井盖翻了，担心有人
    掉下去") stays a danger; a negation asked as a question ("是不是着火", "有没有人受伤") is none.
    A missing pet is not a missing person: with a pet named, "missing" becomes "pet".
    """
    raw = []
    for end, (word, groups) in CUES.iter(text):
        start = end - len(word) + 1
        if word[0] in "不没" and start > 0 and text[start - 1] in "是有":
            groups = tuple(g for g in groups if g.role != "cancel")
        raw.append((start, end, word, groups))
    worry_at = min((start for start, _end, _word, groups in raw if any(g.role == "hypothetical" for g in groups)),
                   default=None)
    calm = [(start, end) for start, end, _word, groups in raw if any(g.role == "cancel" for g in groups)]
    found: dict[str, list[str]] = {}
    for start, end, word, groups in raw:
        for group in groups:
            name = group.name
            if group.role in ("danger", "injury", "traffic"):
                if any(a <= start and end <= b for a, b in calm):
                    continue  # part of the phrase that calls it off
                if _negated(text, start):
                    name = "cancel"
                elif worry_at is not None and start > worry_at:
                    name = "hypothetical"
            words = found.setdefault(name, [])
            if word not in words:
                words.append(word)
    if "pet" in found and "missing" in found:
        found["pet"].extend(found.pop("missing"))
    return found


_NEGATIONS = ("没有", "没", "无", "未", "不是", "并非")


def _negated(text: str, start: int) -> bool:
    """A danger word right after a negation ("没有漏气", "未塌陷"), unless the negation is a
    question ("是不是着火", "有没有人受伤")."""
    for neg in _NEGATIONS:
        at = start - len(neg)
        if at >= 0 and text.startswith(neg, at):
            return not (at > 0 and text[at - 1] in "是有")
    return False


def tokens(text: str) -> list[str]:
    return [t for t in rjieba.cut(text) if t not in _SKIP and not t.isspace()]


def state(hits: dict[str, list[str]]) -> str:
    """Whether the dangers found are live, called off (no one hurt, only a worry) or over."""
    if "cancel" in hits:
        return "calmed"
    if "past" in hits and "now" not in hits:
        return "over"
    return "live"


# Features are hashed into BUCKETS columns (the hashing trick): characters and character pairs are
# hashed from their code points in numpy, words and cue names by CRC-32, each kind with its own
# salt, then spread by a multiplicative hash. Nothing depends on Python's per-process str hash.
BITS = 17
BUCKETS = 1 << BITS
_MULT = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(64 - BITS)
_CHAR, _PAIR, _PAIR_SHIFT = np.uint64(1 << 42), np.uint64(2 << 42), np.uint64(21)  # code points < 2**21
_WORD_SALT, _NAME_SALT = 3 << 42, 4 << 42  # names ("g:fire") never collide with words: they hold a colon


def _names(hits: dict[str, list[str]]) -> list[str]:
    names = ["g:" + name for name in hits]
    dangers = [name for name in hits if name in DANGER]
    if dangers:
        now = state(hits)
        names += [f"d:{name}:{now}" for name in dangers]
        names.append("d:any:" + now)
    if any(BY_NAME[name].role == "other" for name in hits):
        names.append("r:other")
    return names


_keys: dict[str, int] = {}  # word or cue name → its CRC-32 with the kind's salt (bounded below)


def _key(word: str, salt: int) -> int:
    key = _keys.get(word)
    if key is None:
        if len(_keys) > 500_000:
            _keys.clear()
        key = _keys[word] = zlib.crc32(word.encode()) + salt
    return key


def features(text: str, hits: dict[str, list[str]], words: list[str] | None = None) -> np.ndarray:
    """Bucket ids of the words, single characters, character pairs, cue groups and each danger with
    its state (live, calmed, over). A feature that occurs twice counts twice, in training as here."""
    words = tokens(text) if words is None else words
    points = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    get = _keys.get
    keys = [get(w) or _key(w, _WORD_SALT) for w in words]
    keys += [get(n) or _key(n, _NAME_SALT) for n in _names(hits)]
    parts = (points | _CHAR, points[:-1] << _PAIR_SHIFT | points[1:] | _PAIR, np.array(keys, dtype=np.uint64))
    return ((np.concatenate(parts) * _MULT) >> _SHIFT).astype(np.intp)
