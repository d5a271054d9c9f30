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
        "transfers": {"type": "array", "items": {"$ref": "#/components/schemas/Transfer"},
                      "description": "every transfer of the case, oldest first (both sides see the same)"},
        "linked_case": {
            "type": "object", "nullable": True, "description": "the case on the other platform linked to this one",
            "properties": {"id": {"type": "string"}, "number": {"type": "string"}, "tenant": {"type": "string"},
                           "platform": {"type": "string", "enum": ["12345", "110"]}, "status": {"type": "string"},
                           "answer": {"type": "string", "nullable": True}}},
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
_STOP = {"type": "object", "properties": {"tenant": {"type": "string", "example": "140100"},
                                         "platform": {"type": "string", "enum": ["12345", "110"]}}}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": "string", "format": "date-time", "nullable": True}
TRANSFER = {
    "type": "object",
    "description": "转办：沿枢纽路线逐站接收；route 列出每一站及其到达、处理时间",
    "properties": {
        "id": {"type": "string"}, "case": {"type": "string"}, "case_number": {"type": "string", "nullable": True},
        "purpose": {"type": "string", "enum": ["transfer", "emergency", "joint", "clue", "police"],
                    "description": "transfer moves the case on final acceptance; "
                                   "the others open a linked case on the other side"},
        "emergency": {"type": "boolean"},
        "from": _STOP, "to": _STOP,
        "status": {"type": "string", "enum": ["pending", "accepted", "rejected", "negotiating"]},
        "reason": {"type": "string"}, "text": {"type": "string", "nullable": True},
        "detail": {"type": "object",
                   "description": "joint handling: officer_name, officer_phone; police request: unit"},
        "current": {**_STOP, "nullable": True, "description": "the stop that must act now (pending only)"},
        "route": {"type": "array", "items": {"type": "object", "properties": {
            "tenant": {"type": "string"}, "platform": {"type": "string", "enum": ["12345", "110"]},
            "status": {"type": "string",
                       "enum": ["origin", "waiting", "pending", "forwarded", "auto", "accepted", "rejected"]},
            "arrived_at": _NTIME, "acted_at": _NTIME}}},
        "created_at": _TIME, "decided_at": _NTIME, "reject_reason": {"type": "string", "nullable": True},
        "linked_case": {"type": "string", "nullable": True,
                        "description": "id of the linked case opened on the other side"},
        "negotiation": {"type": "object", "nullable": True, "properties": {
            "opened_at": _TIME, "deadline": _TIME,
            "proposal": {"type": "string", "nullable": True, "enum": ["origin", "target", None]},
            "settlement": {"type": "string", "nullable": True, "enum": ["agreed", "first_receiver", None]},
            "settled_at": _NTIME}},
        "events": {"type": "array", "description": "on answers about one transfer: its lines of the case timeline",
                   "items": {"type": "object", "properties": {"type": {"type": "string"}, "at": _TIME,
                                                             "tenant": {"type": "string"}, "actor": {"type": "string"},
                                                             "detail": {"type": "object"}}}},
    },
}
TRIAGE = {"type": "object", "properties": {
    "platform": {"type": "string", "enum": ["12345", "110", "119", "120", "122", "other"]},
    "emergency": {"type": "boolean"}, "kind": {"type": "string"},
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "reasons": {"type": "array", "items": {"type": "string"}},
    "suggested_units": {"type": "array", "items": {"type": "string"}, "description": "unit codes"},
    "uncertain": {"type": "boolean", "description": "an emergency could not be ruled out: routed to the emergency side"},
    "grade": {"type": "string", "nullable": True, "enum": ["一般", "较大", "重大", "特别重大", None]},
    "channel": {"type": "string", "nullable": True, "description": "where to point the caller when neither platform takes it"},
    "matter": {"type": "object", "nullable": True, "description": "the matching item of the transfer list"}}}
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


def _transfer_paths() -> dict:
    s, b, i = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
    transfer, case = _ref("Transfer"), _ref("Case")
    tid = "transfer_id"
    return {
        "/cases/{case_id}/transfers": _write(
            "Transfer (分流转办) to the other platform along the hub route; 409 while another transfer of the case is open",
            _obj(to_={"type": "string", "enum": ["12345", "110"]}, reason_={**s, "maxLength": 500},
                 purpose={"type": "string", "enum": ["transfer", "joint", "clue"], "default": "transfer",
                          "description": "joint: 110 hands the part for government departments to 12345 "
                                         "(text and officer required); clue: 12345 pushes a stability clue to the "
                                         "hub 110. An emergency case sent to 110 becomes purpose emergency, which "
                                         "110 cannot reject"},
                 text=s, officer=_obj(name=s, phone=s)),
            transfer, 201, "case_id"),
        "/transfers": {"get": {
            "summary": "status=pending (default): transfers waiting for the caller's tenant and platform; "
                       "accepted|rejected|negotiating|all: transfers the caller's tenants took part in, oldest first",
            "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": [
                "pending", "accepted", "rejected", "negotiating", "all"], "default": "pending"}},
                {"name": "page", "in": "query", "schema": i}],
            "responses": {"200": {"description": "OK", **_json(_obj(items={"type": "array", "items": transfer},
                                                                     page=i, per_page=i, total=i, pages=i))},
                          **_errors(401, 403, 422)}}},
        "/transfers/{transfer_id}": {"get": {
            "summary": "One transfer the caller's tenant took part in (else 404), with its timeline lines",
            "parameters": [{"name": tid, "in": "path", "required": True, "schema": s}],
            "responses": {"200": {"description": "OK", **_json(transfer)}, **_errors(401, 403, 404)}}},
        "/transfers/{transfer_id}/accept": _write(
            "Accept the hop waiting for the caller (an intermediate hop forwards it). Only the receiving side: "
            "409 not_receiver otherwise", None, transfer, 200, tid),
        "/transfers/{transfer_id}/reject": _write(
            "Reject (退回) with a reason: back to the sender. 409 emergency: 110 cannot reject an emergency",
            _obj(reason_={**s, "maxLength": 500}), transfer, 200, tid),
        "/transfers/{transfer_id}/negotiation": _write(
            "Open a negotiation (协商): the sender after a rejection, or the receiving side instead of deciding; "
            "time-boxed, then the first-receiver rule settles it", _obj(note_=s), transfer, 200, tid),
        "/transfers/{transfer_id}/negotiation/notes": _write(
            "A negotiation note, or a three-party call with the citizen",
            _obj(text_=s, three_party_call=b, call_phone=s), transfer, 201, tid),
        "/transfers/{transfer_id}/negotiation/proposal": _write(
            "Propose who takes the case; the same proposal from the other side settles it",
            _obj(taker_={"type": "string", "enum": ["origin", "target"]}), transfer, 200, tid),
        "/cases/{case_id}/guide": _write(
            "Close a matter outside both scopes by guiding the citizen elsewhere (引导解释)",
            _obj(channel_={"type": "string", "enum": ["人民法院", "仲裁机构", "纪检监察机关", "信访部门", "行政复议机关",
                                                      "外省（市）相关部门", "其他渠道"]}, note_=s), case, 200, "case_id"),
        "/cases/{case_id}/police-result": _write(
            "The 110 desk records how police handled the case (处警反馈) and closes it; a linked 12345 case sees it",
            _obj(result_=s), case, 200, "case_id"),
        "/assignments/{assignment_id}/police": _write(
            "A member unit asks 110 for police during its work (联动110): a linked case at the 110 desk",
            _obj(reason_=s), transfer, 201, "assignment_id"),
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
                        "Extension": EXTENSION, "Transfer": TRANSFER},
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
            **_transfer_paths(),
            "/triage": {"post": {
                "summary": "Triage a request text for the caller's tenant: platform, emergency, kind, the list "
                           "item's units, a confidence and the reasons (the phrases and rules that decided)",
                "requestBody": {"required": True, **_json(_obj(text_={"type": "string", "maxLength": 4000}))},
                "responses": {"200": {"description": "OK", **_json(TRIAGE)}, **_errors(400, 401, 403, 422)}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3 document"}}}},
        },
    }
