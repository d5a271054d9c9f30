from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for

from sqlalchemy import func, select

from saas import audit, jobs, outbox
from saas.extensions import db
from saas.permissions import require

bp = Blueprint("system", __name__, url_prefix="/system", template_folder="templates")


@bp.get("/jobs")
@require("jobs.view")
def jobs_page():
    box = outbox.OutboxMessage
    mine = box.tenant_id.in_(g.actor.context.write_ids)
    counts = dict(db.session.execute(select(box.status, func.count()).where(mine).group_by(box.status)).all())
    stuck = db.session.scalars(select(box).where(mine, box.status != "delivered", box.attempts > 0)
                               .order_by(box.created_at.desc()).limit(50)).all()
    return render_template("system/jobs.html", sizes=jobs.queue_sizes(),
                           failed=jobs.failed_jobs(g.actor.context.write_ids), periodic=jobs.PERIODIC.values(),
                           outbox_counts=counts, stuck=stuck)


@bp.post("/jobs/<job_id>/retry")
@require("jobs.view")
def retry(job_id: str):
    if jobs.retry_failed(job_id, g.actor.context.write_ids):
        audit.record(g.actor, "job.retry", detail={"job": job_id})
        flash("已重新排队", "success")
    else:
        flash("该任务不存在或已处理", "error")
    return redirect(url_for("system.jobs_page"))




@bp.post("/outbox/<int:message_id>/retry")
@require("jobs.view")
def retry_message(message_id: int):
    row = db.first_or_404(select(outbox.OutboxMessage).where(outbox.OutboxMessage.id == message_id,
                                                             outbox.OutboxMessage.status != "delivered"))
    outbox.retry(row)
    audit.record(g.actor, "outbox.retry", row, detail={"kind": row.kind})
    flash("已重新发送", "success")
    return redirect(url_for("system.jobs_page"))
