"""Fixtures of the exchange tests (the harness itself is in harness.py)."""
from __future__ import annotations

import pytest

from tests.modules.exchange.harness import Receiver


@pytest.fixture()
def receiver():
    """An external system's endpoint: a threaded HTTP server in this process, closed after the test."""
    r = Receiver()
    yield r
    r.close()
