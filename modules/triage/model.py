"""The statistical part of triage: three linear models over the same features (platform, emergency,
kind), trained with scikit-learn and exported to one table so that scoring a request is a few dict
lookups and sums in plain Python, with no numpy call per request."""
from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Sequence

from modules.triage.corpus import Example
from modules.triage.features import cue_hits, features

PLATFORMS = ("12345", "110", "119", "120", "122", "other")
KINDS = ("咨询", "求助", "投诉", "举报", "意见建议", "报警", "紧急求助", "警务投诉")
_P, _K = len(PLATFORMS), len(KINDS)
PRUNE = 1e-3  # a feature whose every weight is smaller than this is dropped from the export


def _softmax(values: Sequence[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


class LinearModel:
    """Weights per feature: platform logits, the emergency logit, kind logits, in one tuple."""

    def __init__(self, table: dict[str, tuple[float, ...]], bias: tuple[float, ...]):
        self.table = table
        self.bias = bias

    def score(self, feats: Iterable[str]) -> tuple[list[float], float, list[float]]:
        table = self.table
        rows = [table[f] for f in feats if f in table]
        sums = [sum(column) for column in zip(self.bias, *rows)]
        emergency_logit = max(-30.0, min(30.0, sums[_P]))
        return _softmax(sums[:_P]), 1.0 / (1.0 + math.exp(-emergency_logit)), _softmax(sums[_P + 1:])

    def dump(self) -> bytes:
        body = {"bias": self.bias, "table": self.table}
        return zlib.compress(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())

    @classmethod
    def load(cls, blob: bytes) -> LinearModel:
        body = json.loads(zlib.decompress(blob))
        return cls({f: tuple(w) for f, w in body["table"].items()}, tuple(body["bias"]))


def train(examples: Sequence[Example], *, c: float = 20.0) -> LinearModel:
    """Fit the three models on the examples and export them. scikit-learn is imported here only:
    web processes score with the exported table and never load it."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    rows = [dict.fromkeys(features(e.text, cue_hits(e.text)), 1) for e in examples]
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(rows)
    names = vectorizer.get_feature_names_out()
    platform = _fit(LogisticRegression(C=c, max_iter=5000, class_weight="balanced"), x, [e.platform for e in examples], PLATFORMS)
    emergency = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    emergency.fit(x, [int(e.emergency) for e in examples])
    kind = _fit(LogisticRegression(C=c, max_iter=5000, class_weight="balanced"), x, [e.kind for e in examples], KINDS)
    table: dict[str, tuple[float, ...]] = {}
    for j, name in enumerate(names):
        weights = (*platform[0][:, j], emergency.coef_[0, j], *kind[0][:, j])
        if max(abs(w) for w in weights) >= PRUNE:
            table[str(name)] = tuple(round(float(w), 4) for w in weights)
    bias = (*platform[1], float(emergency.intercept_[0]), *kind[1])
    return LinearModel(table, tuple(round(float(b), 4) for b in bias))


def _fit(model, x, labels: list[str], classes: Sequence[str]):
    """Coefficients and intercepts in the order of `classes`; a class absent from the labels gets
    weights that never win."""
    import numpy as np

    model.fit(x, labels)
    coef = np.zeros((len(classes), x.shape[1]))
    intercept = np.full(len(classes), -30.0)
    for i, label in enumerate(model.classes_):
        row = classes.index(label)
        if len(model.classes_) == 2:  # sklearn keeps one row for two classes
            sign = 1 if i == 1 else -1
            coef[row], intercept[row] = sign * model.coef_[0] / 2, sign * model.intercept_[0] / 2
        else:
            coef[row], intercept[row] = model.coef_[i], model.intercept_[i]
    return coef, intercept
