"""Page fragments other modules' views render too (they may not import cases' views)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request

from modules.cases import service
from modules.cases.models import Case


def contact(case: Case, actor, reason: str, reveal_url: str):
    """The caller block after a reveal request: full contact (audited) or the reason's error."""
    try:
        shown = service.reveal_contact(case, actor, reason)
    except service.CaseError as exc:
        return render_template("cases/_contact.html", case=case, errors=exc.errors, contact=None,
                               reveal_url=reveal_url), 422
    return render_template("cases/_contact.html", case=case, errors={}, contact=shown, reveal_url=reveal_url)


def act(obj, action, success: str, *, page, target: str):
    """One step on a page: run the service; when it refuses, show `page` again with its messages and
    what was typed (422); else flash `success` and go to `target`."""
    try:
        action(obj)
    except service.CaseError as exc:
        return page(obj, errors=exc.errors, form=request.form, status=422)
    flash(success, "success")
    return redirect(target)
