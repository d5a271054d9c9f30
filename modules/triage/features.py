"""From a request's text to what the model and the rules read: words (rjieba), character pairs,
and the cue groups found in it."""
from __future__ import annotations

import ahocorasick
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

    Two readings of position: a danger named after a worry ("担心起火", "怕孩子受伤") is only a
    worry and is listed under "hypothetical", while a danger stated before it ("井盖翻了，担心有人
    掉下去") stays a danger; a negation asked as a question ("是不是着火", "有没有人受伤") is not one.
    """
    raw = list(CUES.iter(text))
    worry_at = min((end - len(word) + 1 for end, (word, groups) in raw
                    if any(g.role == "hypothetical" for g in groups)), default=None)
    found: dict[str, list[str]] = {}
    for end, (word, groups) in raw:
        start = end - len(word) + 1
        for group in groups:
            name = group.name
            if group.role == "cancel" and word[0] in "不没" and start > 0 and text[start - 1] in "是有":
                continue
            if group.role in ("danger", "injury", "traffic"):
                if _negated(text, start):
                    name = "cancel"
                elif worry_at is not None and start > worry_at:
                    name = "hypothetical"
            words = found.setdefault(name, [])
            if word not in words:
                words.append(word)
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


def features(text: str, hits: dict[str, list[str]], words: list[str] | None = None) -> set[str]:
    """Words, single characters and character pairs, the cue groups, and each danger with its state."""
    words = tokens(text) if words is None else words
    plain = "".join(words)
    feats = {"w:" + w for w in words}
    feats.update("u:" + ch for ch in plain)
    feats.update("c:" + plain[i:i + 2] for i in range(len(plain) - 1))
    feats.update("g:" + name for name in hits)
    dangers = [name for name in hits if name in DANGER]
    if dangers:
        now = state(hits)
        feats.update(f"d:{name}:{now}" for name in dangers)
        feats.add("d:any:" + now)
    if any(BY_NAME[name].role == "other" for name in hits):
        feats.add("r:other")
    return feats
