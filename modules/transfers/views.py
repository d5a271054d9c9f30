"""Transfer pages: the queue of transfers waiting for this desk, one transfer (accept, reject,
negotiate), sending from a case, and the printable 110 联动单."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transfers", __name__, url_prefix="/transfers", template_folder="templates")
