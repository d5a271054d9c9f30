"""Transfer-list pages (清单, versions, draft editing, try-it box, county units, the model) and the
intake page's suggestion fragment."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from modules.cases.models import MAX_TEXT
from modules.cases.service import platform_of
from modules.deadlines.calendar import local_day
from modules.triage import lists, service
from modules.triage.jobs import retrain
from modules.triage.lists import ItemData, ListError
from modules.triage.models import CATEGORIES, CHANNELS, KINDS, PLATFORMS, ListVersion
from saas import jobs
from saas.db import utcnow
from saas.permissions import has, require

bp = Blueprint("triage", __name__, url_prefix="/lists", template_folder="templates")


def _holder_list():
    """(the tenant whose list applies, its list or None, whether the actor edits it)."""
    tenant = g.actor.tenant
    owner = lists.holder(tenant)
    lst = lists.list_of(owner)
    editable = owner.id == tenant.id and has(g.actor.role, "lists.manage")
    return owner, lst, editable


def _shown_version(numbered: list[ListVersion], draft, in_force) -> ListVersion | None:
    """The version asked for (?v=N), else the draft being edited, else the one in force."""
    number = request.args.get("v", type=int)
    if number is not None:
        version = next((v for v in numbered if v.number == number), None)
        if version is None:
            abort(404)
        return version
    return draft or in_force or (numbered or [None])[0]


@bp.get("/")
@require("lists.view")
def index():
    owner, lst, editable = _holder_list()
    tenant = g.actor.tenant
    if lst is None:
        province_version = lists.effective_version(tenant)
        return render_template("triage/empty.html", owner=owner, editable=editable, province_version=province_version,
                               may_copy=editable and tenant.level != "province")
    numbered = lists.versions(lst)
    draft = next((v for v in numbered if v.status == "draft"), None) if editable else None
    in_force = lists.in_force_of(numbered)
    version = _shown_version(numbered, draft, in_force)
    items = lists.items(version) if version else []
    platform, q = request.args.get("platform", ""), request.args.get("q", "").strip()
    shown = [i for i in items if (not platform or i.platform == platform)
             and (not q or q in i.matter or q in i.covers or any(q in p for p in i.phrases))]
    county = owner.id != tenant.id
    units = {u.code: u.name for u in lists.units_of(tenant if county else owner)}
    stats = service.override_stats(owner) if owner.is_hub else None
    model = service.newest_model(owner) if owner.is_hub else None
    job_id, state = _training()
    return render_template(
        "triage/index.html", owner=owner, lst=lst, version=version, items=shown, total=len(items),
        versions=numbered, changes=lists.changes(version) if version else [], editable=editable,
        draft=draft, in_force=in_force, platform=platform, q=q,
        platforms=PLATFORMS, county=county, mappings=lists.mappings(tenant) if county else {}, units=units,
        stats=stats, model=model, job_id=job_id, state=state, today=local_day(utcnow()))


@bp.post("/create")
@require("lists.manage")
def create():
    try:
        lists.copy_template(g.actor.tenant, g.actor)
    except ListError as exc:
        flash(str(exc), "error")
    else:
        flash("已从省级模板生成本地清单草稿，请核对承办单位后发布", "success")
    return redirect(url_for("triage.index"))


def _own_list():
    owner, lst, editable = _holder_list()
    if lst is None or not editable:
        abort(404)
    return lst


def _draft():
    draft = lists.draft_of(_own_list())
    if draft is None:
        abort(404)
    return draft


@bp.post("/draft")
@require("lists.manage")
def start_draft():
    draft = lists.start_draft(_own_list(), g.actor)
    return redirect(url_for("triage.index", v=draft.number))


def _item_form() -> ItemData:
    form = request.form
    platform = form.get("platform", "")
    days = form.get("deadline_working_days", "").strip()
    return ItemData(
        category=form.get("category", ""), matter=form.get("matter", ""), covers=form.get("covers", ""),
        phrases=ItemData.words(form.get("phrases", "")), platform=platform, kind=form.get("kind", ""),
        emergency=form.get("emergency") == "1", channel=form.get("channel") or None,
        departments=ItemData.words(form.get("departments", "")), unit_codes=form.getlist("unit_codes"),
        deadline_working_days=int(days) if days.isdigit() else None, legal_basis=form.get("legal_basis", ""))


def _item_page(draft, item, data, errors):
    def same(values):  # a select's (value, label) pairs where the value is its own label
        return [(v, v) for v in values]

    return render_template("triage/item.html", draft=draft, item=item, data=data, errors=errors,
                           categories=same(CATEGORIES), platforms=PLATFORMS, kinds=same(KINDS["12345"] + KINDS["110"]),
                           channels=same(CHANNELS),
                           units=lists.units_of(g.actor.tenant)), (422 if errors else 200)


@bp.route("/draft/items/new", methods=["GET", "POST"])
@require("lists.manage")
def new_item():
    return _save_item(_draft(), None, ItemData(category="求助", kind="求助", deadline_working_days=5))


@bp.route("/draft/items/<key>", methods=["GET", "POST"])
@require("lists.manage")
def edit_item(key: str):
    draft = _draft()
    try:
        item = lists.item_by_key(draft, key)
    except ListError:
        abort(404)
    return _save_item(draft, item, item)


def _save_item(draft, item, shown):
    """The item form: shown filled with `shown`; on POST, saved (a new item when `item` is None)."""
    errors = {}
    if request.method == "POST":
        shown = _item_form()
        try:
            saved = lists.save_item(draft, g.actor.tenant, g.actor, item.key if item else None, shown)
        except ListError as exc:
            errors = exc.errors
        else:
            flash(f"{'已保存' if item else '已新增'}事项：{saved.matter}", "success")
            return redirect(url_for("triage.index", v=draft.number))
    return _item_page(draft, item, shown, errors)


@bp.post("/draft/items/<key>/remove")
@require("lists.manage")
def remove_item(key: str):
    draft = _draft()
    try:
        lists.remove_item(draft, g.actor, key)
    except ListError:
        abort(404)
    flash("已从草稿中删除该事项", "success")
    return redirect(url_for("triage.index", v=draft.number))


@bp.post("/draft/publish")
@require("lists.manage")
def publish():
    draft = _draft()
    raw = request.form.get("effective_from", "")
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        flash("生效日期格式应为 年-月-日", "error")
        return redirect(url_for("triage.index", v=draft.number))
    try:
        lists.publish(draft, g.actor, day, request.form.get("note", ""))
    except ListError as exc:
        flash("未能发布：" + str(exc), "error")
        return redirect(url_for("triage.index", v=draft.number))
    service.forget()
    flash(f"{draft.label}已发布，{day:%Y年%m月%d日}起生效", "success")
    return redirect(url_for("triage.index", v=draft.number))


@bp.post("/draft/discard")
@require("lists.manage")
def discard():
    draft = _draft()
    try:
        lists.discard(draft, g.actor)
    except ListError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已放弃{draft.label}草稿", "success")
    return redirect(url_for("triage.index"))


@bp.post("/try")
@require("lists.view")
def try_it():
    """The try-it box: how a sentence is routed under the version shown (a draft before publishing)."""
    _owner, lst, _editable = _holder_list()
    text = request.form.get("text", "").strip()
    if not text:
        return render_template("triage/_suggestion.html", s=None, message="请输入一句诉求内容")
    version = lists.version_by_number(lst, request.form.get("v", type=int) or 0) if lst else None
    engine = service.draft_engine(g.actor.tenant, version) if version else service.engine_for(g.actor.tenant)
    suggestion = engine.classify(text[:MAX_TEXT])
    return render_template("triage/_suggestion.html", s=suggestion, units=service.unit_names(suggestion.units),
                           tried=True, version=version)


@bp.post("/suggest")
@require("triage.use")
def suggest():
    """The intake page's live suggestion (htmx, debounced)."""
    text = request.form.get("text", "").strip()
    if len(text) < 4:
        return render_template("triage/_suggestion.html", s=None, message="输入诉求内容后，这里显示智能分流建议")
    suggestion = service.suggest(g.actor.tenant, text)
    own = platform_of(g.actor, None)
    # What one click sets on the form: the kind as this desk records it, and whether to send it on.
    send_to = "110" if own == "12345" and suggestion.platform == "110" else (
        "12345" if own == "110" and suggestion.platform == "12345" else "")
    return render_template("triage/_suggestion.html", s=suggestion, units=service.unit_names(suggestion.units),
                           intake=True, local_kind=service.local_kind(suggestion.kind, own), send_to=send_to)


@bp.route("/units/<key>", methods=["GET", "POST"])
@require("lists.units")
def county_units(key: str):
    """A county maps its own units to a matter type of its hub's list."""
    tenant = g.actor.tenant
    version = lists.effective_version(tenant)
    item = next((i for i in lists.items(version) if i.key == key), None) if version else None
    if item is None or item.platform != "12345" or lists.holder(tenant).id == tenant.id:
        abort(404)
    errors = {}
    if request.method == "POST":
        try:
            lists.set_mapping(tenant, g.actor, key, request.form.getlist("unit_codes"))
        except ListError as exc:
            errors = exc.errors
        else:
            service.forget(tenant)
            flash(f"已设置“{item.matter}”的本地承办单位", "success")
            return redirect(url_for("triage.index"))
    return render_template("triage/county_units.html", item=item, units=lists.units_of(tenant),
                           chosen=lists.mappings(tenant).get(key, []), errors=errors), (422 if errors else 200)


@bp.post("/model/train")
@require("triage.train")
def train():
    if not g.actor.tenant.is_hub:
        abort(404)
    job = jobs.enqueue(retrain, tenant_id=g.actor.tenant.id, actor_id=g.actor.user.id if g.actor.user else None)
    flash("已开始重新训练，完成后本页显示新模型", "success")
    return redirect(url_for("triage.index", job=job.id) + "#model")


def _training() -> tuple[str, str | None]:
    """The retraining job named by `?job=` (the train button's redirect) and its state."""
    job_id = request.args.get("job", "")
    return job_id, jobs.job_state(job_id, {g.actor.tenant.id}) if job_id else None


@bp.get("/model")
@require("lists.view")
def model_status():
    owner = lists.holder(g.actor.tenant)
    job_id, state = _training()
    return render_template("triage/_model.html", model=service.newest_model(owner), job_id=job_id, state=state)

