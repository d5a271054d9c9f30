"""Every triage test starts with no engine cached in this process: tenant ids repeat from one test's
fresh database to the next, so a cached lookup or engine could belong to another test's world."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_cached_engines():
    from modules.triage import service

    service.forget()
    service._engines.clear()
    yield
    service.forget()
    service._engines.clear()
