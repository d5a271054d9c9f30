"""Retraining a hub's triage model from its closed cases and the corpus."""
from __future__ import annotations

from saas.jobs import periodic


@periodic(cron="40 2 * * *")
def retrain_nightly() -> int | None:
    """Every night, for each hub: a new model when cases closed since the last one."""
    from modules.triage import training

    return training.retrain_if_new_cases()


def retrain() -> int:
    """On demand from the list page: a new model for the job's tenant (a hub)."""
    from modules.triage import training

    return training.retrain()
