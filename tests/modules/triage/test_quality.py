"""How well the engine routes the held-out part of the corpus (never trained on). The README makes
no figures of its own for triage, so the floor is the one set for the release: emergency recall at
least 90% and platform accuracy at least 85%. Trains once, without the app (a few seconds)."""
from __future__ import annotations

from modules.triage import corpus
from modules.triage.engine import Engine
from modules.triage.evaluation import evaluate, markdown
from modules.triage.model import train


def test_the_base_engine_meets_the_floor_on_the_held_out_corpus():
    training, testing = corpus.training(), corpus.testing()
    assert testing and not {e.id for e in training} & {e.id for e in testing}
    report = evaluate(Engine(train(training)), testing)
    print("\n" + markdown(report))
    for example, platform in report.missed:
        print(f"missed emergency {example.id}: {example.platform} → {platform}: {example.text}")
    assert report.n == len(testing) and report.emergencies > 0
    assert report.accuracy >= 0.85, markdown(report)
    assert report.emergency_recall >= 0.9, [e.id for e, _ in report.missed]
