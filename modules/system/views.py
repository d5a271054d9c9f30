from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for

from saas import audit, jobs
from saas.permissions import require

bp = Blueprint("system", __name__, url_prefix="/system", template_folder="templates")


@bp.get("/jobs")
@require("jobs.view")
def jobs_page():
    return render_template("system/jobs.html", sizes=jobs.queue_sizes(),
                           failed=jobs.failed_jobs(g.actor.context.write_ids), periodic=jobs.PERIODIC.values())


@bp.post("/jobs/<job_id>/retry")
@require("jobs.view")
def retry(job_id: str):
    if jobs.retry_failed(job_id, g.actor.context.write_ids):
        audit.record(g.actor, "job.retry", detail={"job": job_id})
        flash("已重新排队", "success")
    else:
        flash("该任务不存在或已处理", "error")
    return redirect(url_for("system.jobs_page"))


