"""How well the engine routes the two sets it never trains on: the hash-split held-out part of the
corpus and the fresh test set. The floors are the README's figures (training is deterministic), so
a change that makes the engine worse fails here. Trains once, without the app."""
from __future__ import annotations

import pytest

from modules.triage import corpus
from modules.triage.engine import Engine
from modules.triage.evaluation import evaluate, markdown
from modules.triage.model import train


@pytest.fixture(scope="module")
def engine():
    return Engine(train(corpus.training()))


def test_nothing_held_out_is_trained_on():
    training = {e.id for e in corpus.training()}
    assert corpus.testing() and corpus.fresh()
    assert not training & {e.id for e in corpus.testing()}
    assert not training & {e.id for e in corpus.fresh()}
    assert len(corpus.load()) >= 800


@pytest.mark.parametrize(("name", "accuracy", "recall"), [("held-out", 0.95, 0.99), ("fresh", 0.96, 0.99)])
def test_the_engine_meets_the_readmes_figures(engine, name, accuracy, recall):
    examples = corpus.testing() if name == "held-out" else corpus.fresh()
    report = evaluate(engine, examples)
    print("\n" + markdown(report))
    assert report.n == len(examples) and report.emergencies > 0
    assert report.accuracy >= accuracy, markdown(report)
    assert report.emergency_recall >= recall, [e.id for e, _ in report.missed]
