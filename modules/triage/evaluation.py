"""How well the engine does on labelled examples: platform accuracy, per-platform precision and
recall, emergency recall, kind accuracy, and the confusion matrix, as numbers and as Markdown."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from modules.triage.corpus import Example
from modules.triage.engine import EMERGENCY_SIDE, Engine, Suggestion, Thresholds
from modules.triage.model import PLATFORMS, train


@dataclass
class Report:
    n: int
    accuracy: float
    kind_accuracy: float
    emergencies: int
    emergency_recall: float         # emergencies sent to the emergency side, flagged as emergencies
    emergency_precision: float
    classes: dict[str, tuple[float, float, int]]  # platform → precision, recall, support
    confusion: dict[str, dict[str, int]]          # true platform → predicted platform → count
    missed: list[tuple[Example, str]] = field(default_factory=list)  # emergencies the engine missed

    def as_json(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 4), "kind_accuracy": round(self.kind_accuracy, 4),
                "emergencies": self.emergencies, "emergency_recall": round(self.emergency_recall, 4),
                "emergency_precision": round(self.emergency_precision, 4),
                "classes": {p: [round(a, 4), round(b, 4), n] for p, (a, b, n) in self.classes.items()},
                "confusion": self.confusion}


def evaluate(engine: Engine, examples: Sequence[Example]) -> Report:
    return report(examples, engine.classify_many([e.text for e in examples]))


def report(examples: Sequence[Example], suggestions: Sequence[Suggestion]) -> Report:
    """The figures of the engine's suggestions against the examples' labels."""
    confusion = {p: dict.fromkeys(PLATFORMS, 0) for p in PLATFORMS}
    right = kinds = flagged = true_flags = caught = 0
    missed = []
    emergencies = sum(1 for e in examples if e.emergency)
    for example, s in zip(examples, suggestions):
        confusion[example.platform][s.platform] += 1
        right += s.platform == example.platform
        kinds += s.kind == example.kind
        flagged += s.emergency
        true_flags += s.emergency and example.emergency
        if example.emergency:
            if s.emergency and s.platform in EMERGENCY_SIDE:
                caught += 1
            else:
                missed.append((example, s.platform))
    classes = {}
    for p in PLATFORMS:
        predicted = sum(confusion[t][p] for t in PLATFORMS)
        support = sum(confusion[p].values())
        hit = confusion[p][p]
        classes[p] = (hit / predicted if predicted else 0.0, hit / support if support else 0.0, support)
    n = len(examples) or 1
    return Report(n=len(examples), accuracy=right / n, kind_accuracy=kinds / n, emergencies=emergencies,
                  emergency_recall=caught / emergencies if emergencies else 1.0,
                  emergency_precision=true_flags / flagged if flagged else 1.0,
                  classes=classes, confusion=confusion, missed=missed)


def cross_validate(examples: Sequence[Example], choices: Sequence[Thresholds], folds: int = 5) -> list[Report]:
    """For each choice of thresholds, the figures over `folds` folds of `examples` (a fixed shuffle):
    each fold scored by a model trained on the others. How the engine's thresholds are chosen,
    without the held-out part or the fresh set."""
    order = np.random.default_rng(7).permutation(len(examples))
    parts = [[examples[i] for i in order[k::folds]] for k in range(folds)]
    scored: list[list[Suggestion]] = [[] for _ in choices]
    for k, part in enumerate(parts):
        model = train([e for j, other in enumerate(parts) if j != k for e in other])
        texts = [e.text for e in part]
        for suggestions, thresholds in zip(scored, choices):
            suggestions += Engine(model, None, thresholds).classify_many(texts)
    pooled = [e for part in parts for e in part]
    return [report(pooled, suggestions) for suggestions in scored]


def markdown(report: Report) -> str:
    lines = [f"examples {report.n}; platform accuracy {report.accuracy:.1%}; kind accuracy "
             f"{report.kind_accuracy:.1%}; emergency recall {report.emergency_recall:.1%} "
             f"({report.emergencies - len(report.missed)}/{report.emergencies}); emergency precision "
             f"{report.emergency_precision:.1%}", "",
             "| true \\ predicted | " + " | ".join(PLATFORMS) + " | recall |",
             "|---" * (len(PLATFORMS) + 2) + "|"]
    for t in PLATFORMS:
        row = report.confusion[t]
        lines.append(f"| **{t}** | " + " | ".join(str(row[p]) for p in PLATFORMS)
                     + f" | {report.classes[t][1]:.1%} |")
    lines.append("| precision | " + " | ".join(f"{report.classes[p][0]:.1%}" for p in PLATFORMS) + " | |")
    return "\n".join(lines)
