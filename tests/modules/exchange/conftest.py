"""Fixtures of the exchange tests (the bench itself is in bench.py)."""
from __future__ import annotations

import pytest

from tests.modules.exchange.bench import Receiver


@pytest.fixture()
def receiver():
    """An external system's endpoint: a threaded HTTP server in this process, closed after the test."""
    r = Receiver()
    yield r
    r.close()
