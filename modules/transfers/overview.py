"""The hub's view of transfers: today's volume each way, pending ones with their age, rejections
with reasons, acceptance times; and the dedicated seats (专席) a hub admin grants."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transfer_overview", __name__, url_prefix="/linkage", template_folder="templates")
