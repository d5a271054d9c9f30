from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import select

from saas.extensions import db
from saas.models import AuditLog
from saas.permissions import require
from saas.templating import render_page

bp = Blueprint("audit", __name__, url_prefix="/audit", template_folder="templates")

ACTIONS = {
    "auth.login": "登录", "auth.logout": "退出", "auth.password_change": "修改密码",
    "permission.denied": "越权拒绝", "tenant.write_refused": "跨地区写入拒绝",
    "unit.create": "登记单位", "unit.update": "修改单位", "user.create": "新建账号",
    "user.password_reset": "重置密码", "membership.grant": "开通岗位", "membership.end": "结束岗位",
    "membership.expired": "岗位到期", "token.create": "签发令牌", "token.revoke": "吊销令牌",
    "tenant.create": "新建租户", "tenant.update": "修改租户", "job.retry": "重试任务",
    "case.reveal_contact": "查看来电人信息", "policy.update": "修改时限标准", "calendar.set": "登记节假日",
    "calendar.remove": "删除节假日", "outbox.retry": "重发消息",
}
RESULTS = {"ok": "成功", "failed": "失败", "denied": "拒绝", "locked": "已锁定"}


@bp.get("/")
@require("audit.view")
def index():
    action, result = request.args.get("action", ""), request.args.get("result", "")
    stmt = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if action in ACTIONS:
        stmt = stmt.where(AuditLog.action == action)
    if result in RESULTS:
        stmt = stmt.where(AuditLog.result == result)
    page = db.paginate(stmt, per_page=50, error_out=False)
    return render_page("audit/index.html", block="list", page=page, action=action, result=result,
                       actions=ACTIONS, results=RESULTS)
