"""From a request's text to what the model and the rules read: words (rjieba), character pairs,
and the cue groups found in it."""
from __future__ import annotations

import zlib

import ahocorasick
import numpy as np
import rjieba

from modules.triage.cues import BY_NAME, DANGER, GROUPS, CueGroup

# Punctuation and spaces, half and full width: never a feature.
_SKIP = frozenset(" \t\r\n\u3000\xa0\v\f，。！？、；：“”‘’（）《》【】…—·,.!?;:'\"()[]<>~-_/\\|@#%&*+=")


def _cue_automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    words: dict[str, list[CueGroup]] = {}
    for group in GROUPS:
        for word in group.words:
            words.setdefault(word, []).append(group)
    for word, groups in words.items():
        roles = {g.role for g in groups}
        # (word, groups, a worry word, a calling-off phrase, a danger that a position can change)
        automaton.add_word(word, (word, tuple(groups), "hypothetical" in roles, "cancel" in roles,
                                  bool(roles & {"danger", "injury", "traffic"})))
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
    worry_at = None
    calm = []
    for end, (word, groups, worry, cancel, movable) in CUES.iter(text):
        start = end - len(word) + 1
        if cancel:
            if word[0] in "不没" and start > 0 and text[start - 1] in "是有":
                groups, cancel = tuple(g for g in groups if g.role != "cancel"), False
            else:
                calm.append((start, end))
        if worry and (worry_at is None or start < worry_at):
            worry_at = start
        raw.append((start, end, word, groups, movable))
    found: dict[str, list[str]] = {}
    for start, end, word, groups, movable in raw:
        for group in groups:
            name = group.name
            if movable and group.role in _MOVABLE:
                if calm and any(a <= start and end <= b for a, b in calm):
                    continue  # part of the phrase that calls it off
                if _negated(text, start):
                    name = "cancel"
                elif worry_at is not None and start > worry_at:
                    name = "hypothetical"
            words = found.get(name)
            if words is None:
                found[name] = [word]
            elif word not in words:
                words.append(word)
    if "pet" in found and "missing" in found:
        found["pet"].extend(found.pop("missing"))
    return found


_MOVABLE = frozenset({"danger", "injury", "traffic"})
_NEGATIONS = ("没有", "没", "无", "未", "不是", "并非")
_NEGATION_ENDS = frozenset(n[-1] for n in _NEGATIONS)


def _negated(text: str, start: int) -> bool:
    """A danger word right after a negation ("没有漏气", "未塌陷"), unless the negation is a
    question ("是不是着火", "有没有人受伤")."""
    if start == 0 or text[start - 1] not in _NEGATION_ENDS:
        return False
    for neg in _NEGATIONS:
        at = start - len(neg)
        if at >= 0 and text.startswith(neg, at):
            return not (at > 0 and text[at - 1] in "是有")
    return False


def tokens(text: str, cut=rjieba.cut, skip=_SKIP) -> list[str]:
    """The words of a request, without punctuation or spaces (rjieba gives each space alone)."""
    return [t for t in cut(text) if t not in skip]


def state(hits: dict[str, list[str]]) -> str:
    """Whether the dangers found are live, called off ("没有人受伤", "火已经灭了") or over (last month)."""
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


def _word_keys(words: list[str], hits: dict[str, list[str]]) -> list[int]:
    get = _keys.get
    keys = [get(w) or _key(w, _WORD_SALT) for w in words]
    keys += [get(n) or _key(n, _NAME_SALT) for n in _names(hits)]
    return keys


def _points(plain: str) -> np.ndarray:
    return np.frombuffer(plain.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _pairs(points: np.ndarray) -> np.ndarray:
    return points[:-1] << _PAIR_SHIFT | points[1:] | _PAIR


def _bucket(ids: np.ndarray) -> np.ndarray:
    return ((ids * _MULT) >> _SHIFT).astype(np.intp)


def features(text: str, hits: dict[str, list[str]], words: list[str] | None = None) -> np.ndarray:
    """Bucket ids of the words, single characters, character pairs, cue groups and each danger with
    its state (live, calmed, over). A feature that occurs twice is listed twice: the model reads its count (`model.weigh`)."""
    words = tokens(text) if words is None else words
    points = _points("".join(words))
    return _bucket(np.concatenate((points | _CHAR, _pairs(points), np.array(_word_keys(words, hits), np.uint64))))


def features_many(rows: list[tuple[list[str], dict[str, list[str]]]]):
    """The features of many requests (their words and cue hits) at once, as a sparse matrix of
    counts (rows: requests, columns: buckets): the same bucket ids as `features`, with the numpy
    work done once per batch."""
    from scipy.sparse import coo_matrix

    plains = ["".join(words) for words, _hits in rows]
    lengths = np.array([len(p) for p in plains], dtype=np.int64)
    points = _points("".join(plains))
    keys: list[int] = []
    key_counts = []
    for words, hits in rows:
        own = _word_keys(words, hits)
        keys += own
        key_counts.append(len(own))
    ends = np.cumsum(lengths)
    pair_ok = np.ones(max(len(points) - 1, 0), dtype=bool)
    pair_ok[ends[(lengths > 0) & (ends < len(points))] - 1] = False  # a request's last character pairs with nothing
    parts = ((_bucket(points | _CHAR), lengths),
             (_bucket(_pairs(points)[pair_ok]), np.maximum(lengths - 1, 0)),
             (_bucket(np.array(keys, dtype=np.uint64)), np.array(key_counts, dtype=np.int64)))
    requests = np.arange(len(rows))
    row_ids = np.concatenate([np.repeat(requests, counts) for _ids, counts in parts])
    column_ids = np.concatenate([ids for ids, _counts in parts])
    matrix = coo_matrix((np.ones(len(column_ids), np.float32), (row_ids, column_ids)), shape=(len(rows), BUCKETS))
    return matrix.tocsr()  # duplicates summed: counts
