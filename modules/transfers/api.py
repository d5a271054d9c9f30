"""Transfer endpoints of /api/v1 (API.md): send, list, accept, reject, negotiate."""
from __future__ import annotations

from saas.api import bp  # noqa: F401
