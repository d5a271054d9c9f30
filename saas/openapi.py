"""The OpenAPI 3 description of /api/v1, kept beside the endpoints it describes."""
from __future__ import annotations

ERROR = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string", "description": "给人看的中文说明"}}}},
}
TENANT = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "example": "140105"},
        "name": {"type": "string", "example": "小店区"},
        "level": {"type": "string", "enum": ["province", "city", "county"]},
        "hub": {"type": "string", "nullable": True, "example": "140100"},
    },
}
UNIT = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "example": "140100-heating"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["department", "township", "utility", "telecom", "other"]},
        "tenant": {"type": "string", "example": "140100"},
    },
}


ASSIGNMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "case": {"type": "string"}, "unit": {"type": "string", "example": "140100-heating"},
        "role": {"type": "string", "enum": ["lead", "assist"]},
        "status": {"type": "string", "enum": ["pending", "accepted", "returned", "replied", "superseded"]},
        "deadline": {"type": "string", "format": "date-time"}, "deadline_label": {"type": "string"},
        "dispatched_at": {"type": "string", "format": "date-time"},
        "accepted_at": {"type": "string", "format": "date-time", "nullable": True},
        "replied_at": {"type": "string", "format": "date-time", "nullable": True},
        "result": {"type": "string", "nullable": True}, "resolved": {"type": "boolean", "nullable": True},
        "return_reason": {"type": "string", "nullable": True}, "extended_days": {"type": "integer"},
    },
}
CASE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "number": {"type": "string", "example": "140100-20261122-00001"},
        "tenant": {"type": "string", "description": "where it was received"}, "owner_tenant": {"type": "string"},
        "platform": {"type": "string", "enum": ["12345", "110"]}, "place_tenant": {"type": "string"},
        "status": {"type": "string", "enum": ["new", "transferring", "negotiating", "dispatched", "in_progress",
                                              "replied", "closed"]},
        "emergency": {"type": "boolean"}, "kind": {"type": "string"}, "urgency": {"type": "string", "enum": ["normal", "urgent"]},
        "grade": {"type": "string", "nullable": True, "enum": ["一般", "较大", "重大", "特别重大", None]},
        "triage": {"type": "object", "nullable": True},
        "caller": {"type": "object", "properties": {"name": {"type": "string"}, "phone": {"type": "string", "example": "138****5678"}}},
        "text": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "deadline": {"type": "string", "format": "date-time", "nullable": True},
        "supervised": {"type": "boolean"}, "answer": {"type": "string", "nullable": True},
        "satisfaction": {"type": "string", "nullable": True}, "close_reason": {"type": "string", "nullable": True},
        "assignments": {"type": "array", "items": {"$ref": "#/components/schemas/Assignment"}},
        "transfers": {"type": "array", "items": {"type": "object"}},
        "events": {"type": "array", "items": {"type": "object", "properties": {
            "type": {"type": "string"}, "at": {"type": "string", "format": "date-time"}, "tenant": {"type": "string"},
            "actor": {"type": "string"}, "detail": {"type": "object"}}}},
    },
}
EXTENSION = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "assignment": {"type": "string"}, "case": {"type": "string"},
                   "working_days": {"type": "integer"}, "reason": {"type": "string"},
                   "status": {"type": "string", "enum": ["pending", "granted", "refused"]},
                   "requested_at": {"type": "string", "format": "date-time"},
                   "decided_at": {"type": "string", "format": "date-time", "nullable": True},
                   "note": {"type": "string", "nullable": True}},
}
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128},
               "description": "同一键同一请求返回首次结果且不重复执行；同一键不同请求返回422"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(**props) -> dict:
    required = [k.rstrip("_") for k, v in props.items() if k.endswith("_")]
    schema = {"type": "object", "properties": {k.rstrip("_"): v for k, v in props.items()}}
    return {**schema, "required": required} if required else schema


def _write(summary: str, request: dict | None, response: dict, status: int = 200, path_param: str | None = None) -> dict:
    op = {"summary": summary, "parameters": [IDEMPOTENCY],
          "responses": {str(status): {"description": "OK", **_json(response)}, **_errors(400, 401, 403, 404, 409, 422)}}
    if path_param:
        op["parameters"] = [{"name": path_param, "in": "path", "required": True, "schema": {"type": "string"}}, IDEMPOTENCY]
    if request is not None:
        op["requestBody"] = {"required": True, **_json(request)}
    return {"post": op}


def _case_paths() -> dict:
    s, b, i = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
    case, assignment, extension = _ref("Case"), _ref("Assignment"), _ref("Extension")
    return {
        "/cases": {
            **_write("Intake (受理)", _obj(text_=s, channel={"type": "string", "enum": ["phone", "web", "wechat", "app", "sms", "api"]},
                                           caller=_obj(name=s, phone=s), address=s, place_tenant=s,
                                           received_by={"type": "string", "enum": ["12345", "110"]}, kind=s,
                                           urgency={"type": "string", "enum": ["normal", "urgent"]}, emergency=b,
                                           answer={"type": "string", "description": "即问即答：咨询当场答复并办结"}),
                     case, 201),
            "get": {"summary": "Cases the caller may see, oldest update first",
                    "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                                   for n in ("status", "platform", "updated_since", "page")],
                    "responses": {"200": {"description": "OK", **_json(_obj(items={"type": "array", "items": case},
                                                                             page=i, per_page=i, total=i, pages=i))},
                                  **_errors(401, 403, 422)}}},
        "/cases/{case_id}": {"get": {
            "summary": "One case with its assignments and timeline (the caller is unmasked for roles that may see it; audited)",
            "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": s}],
            "responses": {"200": {"description": "OK", **_json(case)}, **_errors(401, 403, 404)}}},
        "/cases/{case_id}/assignments": _write("Dispatch (派单) to one lead and any assisting units",
                                               _obj(units_={"type": "array", "items": _obj(unit_=s, role={"type": "string", "enum": ["lead", "assist"]})},
                                                    deadline_working_days=i, complex=b, instruction=s),
                                               {"type": "array", "items": assignment}, 201, "case_id"),
        "/cases/{case_id}/followup": _write("Follow-up (回访): satisfied closes, dissatisfied reopens",
                                            _obj(satisfaction={"type": "string", "enum": ["satisfied", "basically_satisfied", "dissatisfied"]},
                                                 solved=b, note=s, reached={"type": "boolean", "default": True}),
                                            case, 200, "case_id"),
        "/cases/{case_id}/close": _write("Close a case that was never dispatched, with a reason", _obj(reason_=s), case, 200, "case_id"),
        "/cases/{case_id}/supervise": _write("Flag for supervision (督办) with an instruction", _obj(instruction_=s), case, 200, "case_id"),
        "/assignments": {"get": {"summary": "The unit's assignments (its inbox)",
                                 "parameters": [{"name": "status", "in": "query", "schema": s}],
                                 "responses": {"200": {"description": "OK", **_json({"type": "array", "items": assignment})},
                                               **_errors(401, 403, 422)}}},
        "/assignments/{assignment_id}/accept": _write("Accept (签收)", None, assignment, 200, "assignment_id"),
        "/assignments/{assignment_id}/return": _write("Return (退回) within the window, with a reason", _obj(reason_=s), assignment, 200, "assignment_id"),
        "/assignments/{assignment_id}/extension": _write("Ask for an extension (延期)", _obj(working_days_=i, reason_=s), extension, 201, "assignment_id"),
        "/assignments/{assignment_id}/reply": _write("Reply (办结答复)", _obj(result_=s, resolved_=b), assignment, 200, "assignment_id"),
        "/extensions/{request_id}/decision": _write("Grant or refuse an extension", _obj(grant_=b, note=s), extension, 200, "request_id"),
    }


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "错误", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for c in codes}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Liandong (联动) API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, "Tenant": TENANT, "Unit": UNIT, "Case": CASE, "Assignment": ASSIGNMENT,
                        "Extension": EXTENSION},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/me": {"get": {
                "summary": "The token's tenant, role and unit",
                "responses": {"200": {"description": "OK", **_json({"type": "object", "properties": {
                    "tenant": {"$ref": "#/components/schemas/Tenant"}, "role": {"type": "string"},
                    "unit": {"type": "string", "nullable": True}}})}, **_errors(401)}}},
            "/units": {"get": {
                "summary": "Member units of the caller's tenant (and, for hub roles, of the tenants it serves)",
                "responses": {"200": {"description": "OK", **_json({"type": "array", "items": {"$ref": "#/components/schemas/Unit"}})},
                              **_errors(401, 403)}}},
            "/units/{code}": {"get": {
                "summary": "One member unit",
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK", **_json({"$ref": "#/components/schemas/Unit"})},
                              **_errors(401, 403, 404)}}},
            **_case_paths(),
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3 document"}}}},
        },
    }
