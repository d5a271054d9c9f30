"""Exchange pages for a hub admin: webhooks of external systems, their deliveries and retries."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exchange", __name__, url_prefix="/exchange", template_folder="templates")
