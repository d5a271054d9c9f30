"""The statistical part of triage: three linear support vector machines over the same hashed,
tf-idf weighted features (platform, emergency, kind), trained with scikit-learn and exported as one
weight matrix; the platform and emergency heads' margins are calibrated into probabilities first.
Scoring a request is a few numpy operations over its features' rows: no scikit-learn call per
request, no per-feature Python loop."""
from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np

from modules.triage.corpus import Example
from modules.triage.features import BUCKETS, cue_hits, features_many, tokens

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
SVM_C = 2.0  # the machines' regularisation, by 5-fold cross-validation on the training part (1, 2 and 4 tried)
FOLDS = 5  # the calibration's folds


def probabilities(logits: Sequence[float]) -> tuple[list[float], float]:
    """Platform probabilities (the joint head's softmax summed per platform) and the emergency
    probability (the binary head's sigmoid). The export has already calibrated both (`train`)."""
    joint = logits[:_J]
    top = max(joint)
    exps = [math.exp(v - top) for v in joint]
    total = sum(exps)
    platform = [0.0] * len(PLATFORMS)
    for i, e in enumerate(exps):
        platform[_JOINT_PLATFORM[i]] += e / total
    return platform, 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logits[_J]))))


def _term_weights(counts: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Each feature's count as 1 + log(count), times the feature's idf."""
    return (1.0 + np.log(counts)) * idf


def weigh(counts, idf: np.ndarray):
    """Feature counts (a sparse matrix) as the model reads them: `_term_weights`, each row scaled to
    length 1, so a long request weighs no more than a short one and a feature every request has
    weighs little. Lengths are summed in float64, as `LinearModel.logits` does for one row."""
    x = counts.astype(np.float32)
    x.data = _term_weights(x.data, idf[x.indices])
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    lengths = np.sqrt(np.bincount(rows, weights=np.square(x.data, dtype=np.float64), minlength=x.shape[0]))
    lengths[lengths == 0] = 1.0
    x.data /= lengths[rows].astype(np.float32)
    return x


class LinearModel:
    """`weights` is BUCKETS × WIDTH; a request's logits are its weighted features (`weigh`) times
    `weights`, plus `bias`. `idf` is 0 for a bucket no training feature fell into: it then counts
    for nothing."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray, idf: np.ndarray):
        self.weights = weights
        self.bias = bias
        self.idf = idf

    def logits(self, ids: np.ndarray) -> list[float]:
        """One request's logits, from its bucket ids (`features`): what `weigh` does to a row, then
        the product with the weights."""
        ids, counts = np.unique(ids, return_counts=True)
        values = _term_weights(counts.astype(np.float32), self.idf[ids])
        length = math.sqrt(float(np.square(values, dtype=np.float64).sum())) or 1.0
        return ((values / np.float32(length)) @ self.weights[ids] + self.bias).tolist()

    def scores_many(self, counts) -> tuple[list[list[float]], list[list[float]], list[float]]:
        """For many requests at once, from their feature counts (`features_many`): the logits, the
        platform probabilities and the emergency probabilities (what `probabilities` gives for one)."""
        logits = weigh(counts, self.idf) @ self.weights + self.bias
        joint = logits[:, :_J]
        exps = np.exp(joint - joint.max(axis=1, keepdims=True))
        platform = (exps @ _TO_PLATFORM) / exps.sum(axis=1, keepdims=True)
        emergency = 1.0 / (1.0 + np.exp(-np.clip(logits[:, _J], -30.0, 30.0)))
        return logits.tolist(), platform.tolist(), emergency.tolist()

    def dump(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, weights=self.weights, bias=self.bias, idf=self.idf)
        return buffer.getvalue()

    @classmethod
    def load(cls, blob: bytes) -> LinearModel:
        with np.load(io.BytesIO(blob)) as data:
            return cls(data["weights"], data["bias"], data["idf"])


def design(examples: Sequence[Example]):
    """The examples' feature counts as a sparse matrix (rows: examples, columns: buckets)."""
    return features_many([(tokens(e.text), cue_hits(e.text)) for e in examples])


def _idf(counts) -> np.ndarray:
    n = counts.shape[0]
    documents = np.bincount(counts.indices, minlength=BUCKETS)
    return np.where(documents > 0, np.log((1.0 + n) / (1.0 + documents)) + 1.0, 0.0).astype(np.float32)


def _margins(x, labels, classes, *, balanced=False) -> tuple[np.ndarray, np.ndarray]:
    """A linear support vector machine's weights and bias per class, in `classes` order (a class
    with no example gets a bias far below the others)."""
    from sklearn.svm import LinearSVC

    # The solver visits the examples in a random order: a fixed one, so that training repeats exactly.
    svm = LinearSVC(C=SVM_C, loss="hinge", max_iter=20_000, class_weight="balanced" if balanced else None,
                    random_state=0)
    svm.fit(x, labels)
    coef, intercept = np.zeros((len(classes), BUCKETS)), np.full(len(classes), -30.0)
    if len(svm.classes_) == 2:  # one row for two classes: the second's margin, the first's is 0
        first, second = (classes.index(label) for label in svm.classes_)
        coef[second], intercept[second], intercept[first] = svm.coef_[0], svm.intercept_[0], 0.0
    else:
        for row, label in enumerate(svm.classes_):
            at = classes.index(label)
            coef[at], intercept[at] = svm.coef_[row], svm.intercept_[row]
    return coef, intercept


def _calibration(x, joint: list[str], emergency: list[bool]) -> tuple[float, float, float]:
    """How margins become probabilities, fitted on margins of examples the margins' model did not
    see (5 folds): a temperature for the platform head's softmax, and a slope and an offset for the
    emergency head's sigmoid (Platt scaling)."""
    from scipy.optimize import minimize_scalar
    from sklearn.linear_model import LogisticRegression

    n = x.shape[0]
    fold = np.arange(n) % FOLDS
    joint_margin, emergency_margin = np.zeros((n, _J)), np.zeros(n)
    for k in range(FOLDS):
        train_rows, test_rows = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        coef, intercept = _margins(x[train_rows], [joint[i] for i in train_rows], JOINT)
        joint_margin[test_rows] = x[test_rows] @ coef.T + intercept
        coef, intercept = _margins(x[train_rows], [emergency[i] for i in train_rows], (False, True), balanced=True)
        emergency_margin[test_rows] = x[test_rows] @ coef[1] + intercept[1]
    truth = np.array([JOINT.index(j) for j in joint])

    def loss(temperature: float) -> float:
        z = joint_margin / temperature
        z -= z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(n), truth]))

    temperature = minimize_scalar(loss, bounds=(0.01, 10.0), method="bounded").x
    platt = LogisticRegression(C=1e6).fit(emergency_margin[:, None], emergency)
    return temperature, float(platt.coef_[0][0]), float(platt.intercept_[0])


def train(examples: Sequence[Example]) -> LinearModel:
    """Fit the three heads (linear support vector machines over the weighted features) and export
    them as one matrix whose logits are already probabilities' logits: the platform head's margins
    divided by the calibrated temperature, the emergency head's margin put through Platt's line.
    scikit-learn is imported here only: web processes score with the exported matrix."""
    counts = design(examples)
    idf = _idf(counts)
    x = weigh(counts, idf)
    # The examples in a fixed shuffled order, so that the calibration's folds mix the corpus's files.
    order = np.random.default_rng(7).permutation(len(examples))
    x, examples = x[order], [examples[i] for i in order]
    joint = [e.platform + ("!" if e.emergency else "") for e in examples]
    emergency = [e.emergency for e in examples]
    temperature, slope, offset = _calibration(x, joint, emergency)

    platform = _margins(x, joint, JOINT)
    urgent = _margins(x, emergency, (False, True), balanced=True)
    kind = _margins(x, [e.kind for e in examples], KINDS)
    weights = np.vstack([platform[0] / temperature, slope * urgent[0][1][None, :], kind[0]]).T
    bias = np.concatenate([platform[1] / temperature, [slope * urgent[1][1] + offset], kind[1]])
    return LinearModel(np.ascontiguousarray(weights.astype(np.float32)), bias.astype(np.float32), idf)
