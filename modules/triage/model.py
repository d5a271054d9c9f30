"""The statistical part of triage: three linear models over the same hashed features (platform,
emergency, kind), trained with scikit-learn and exported as one weight matrix, so that scoring a
request is one numpy gather and sum: no scikit-learn call per request, no per-feature Python loop."""
from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from modules.triage.corpus import Example
from modules.triage.features import BUCKETS, cue_hits, features

PLATFORMS = ("12345", "110", "119", "120", "122", "other")
KINDS = ("咨询", "求助", "投诉", "举报", "意见建议", "报警", "紧急求助", "警务投诉")
# The platform head learns platform and urgency together ("110!" is a 110 emergency): a 110
# emergency and a 110 theft reported a week later read very differently, and one class for both
# blurs the line with 12345.
JOINT = ("12345", "110", "110!", "119!", "120!", "122", "122!", "other")
_JOINT_PLATFORM = tuple(PLATFORMS.index(j.rstrip("!")) for j in JOINT)
_J, _K = len(JOINT), len(KINDS)
_TO_PLATFORM = np.array([[1.0 if PLATFORMS.index(j.rstrip("!")) == p else 0.0 for p in range(len(PLATFORMS))]
                         for j in JOINT])
WIDTH = _J + 1 + _K  # joint platform logits, the emergency logit, kind logits
KIND_OFFSET = _J + 1


def probabilities(logits: Sequence[float]) -> tuple[list[float], float]:
    """Platform probabilities (the joint head's softmax summed per platform) and the emergency
    probability (the binary head's sigmoid; in cross-validation it caught more emergencies than the
    joint head's urgent share or a mix of the two)."""
    joint = logits[:_J]
    top = max(joint)
    exps = [math.exp(v - top) for v in joint]
    total = sum(exps)
    platform = [0.0] * len(PLATFORMS)
    for i, e in enumerate(exps):
        platform[_JOINT_PLATFORM[i]] += e / total
    return platform, 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logits[_J]))))


class LinearModel:
    """`weights` is BUCKETS × WIDTH; a request's scores are the sum of its features' rows plus `bias`."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray):
        self.weights = weights
        self.bias = bias

    def logits(self, ids: np.ndarray) -> list[float]:
        return (self.weights.take(ids, axis=0).sum(axis=0) + self.bias).tolist()

    def scores_many(self, matrix) -> tuple[list[list[float]], list[list[float]], list[float]]:
        """For many requests at once, from their features (`features_many`): the logits, the
        platform probabilities and the emergency probabilities (what `probabilities` gives for one)."""
        logits = matrix.sums(self.weights) + self.bias
        joint = logits[:, :_J]
        exps = np.exp(joint - joint.max(axis=1, keepdims=True))
        platform = (exps @ _TO_PLATFORM) / exps.sum(axis=1, keepdims=True)
        emergency = 1.0 / (1.0 + np.exp(-np.clip(logits[:, _J], -30.0, 30.0)))
        return logits.tolist(), platform.tolist(), emergency.tolist()

    def dump(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, weights=self.weights, bias=self.bias)
        return buffer.getvalue()

    @classmethod
    def load(cls, blob: bytes) -> LinearModel:
        with np.load(io.BytesIO(blob)) as data:
            return cls(data["weights"], data["bias"])


def design(examples: Sequence[Example]):
    """The examples' feature counts as a sparse matrix (rows: examples, columns: buckets)."""
    from scipy.sparse import csr_matrix

    rows = [features(e.text, cue_hits(e.text)) for e in examples]
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
    matrix = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(examples), BUCKETS))
    matrix.sum_duplicates()
    return matrix


def train(examples: Sequence[Example], *, c: float = 10.0) -> LinearModel:
    """Fit the three models on the examples and export them. scikit-learn is imported here only:
    web processes score with the exported matrix and never load it."""
    from sklearn.linear_model import LogisticRegression

    x = design(examples)

    def fit(labels, classes):
        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x, labels)
        coef, intercept = np.zeros((len(classes), BUCKETS)), np.full(len(classes), -30.0)
        for i, label in enumerate(model.classes_):
            row = classes.index(label)
            if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes
                sign = 1 if i == 1 else -1
                coef[row], intercept[row] = sign * model.coef_[0] / 2, sign * model.intercept_[0] / 2
            else:
                coef[row], intercept[row] = model.coef_[i], model.intercept_[i]
        return coef, intercept

    platform = fit([e.platform + ("!" if e.emergency else "") for e in examples], JOINT)
    emergency = fit([str(e.emergency) for e in examples], ("False", "True"))
    kind = fit([e.kind for e in examples], KINDS)
    # The emergency logit is True's minus False's (two-class softmax as one sigmoid).
    em_coef = emergency[0][1] - emergency[0][0]
    em_bias = emergency[1][1] - emergency[1][0]
    weights = np.vstack([platform[0], em_coef[None, :], kind[0]]).T.astype(np.float32)
    bias = np.concatenate([platform[1], [em_bias], kind[1]]).astype(np.float32)
    return LinearModel(np.ascontiguousarray(weights), bias)
