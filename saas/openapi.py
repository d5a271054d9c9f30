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
            "schemas": {"Error": ERROR, "Tenant": TENANT, "Unit": UNIT},
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
        },
    }
