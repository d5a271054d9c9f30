"""Personal data helpers: the one phone mask, and phone validation."""
from __future__ import annotations

import re

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def valid_phone(value: str | None) -> bool:
    value = (value or "").strip()
    return bool(_MOBILE.match(value) or _LANDLINE.match(value))


def mask_phone(value: str | None) -> str:
    """138****5678 for mobiles; keep the area code and the last 2 digits of landlines."""
    value = (value or "").strip()
    if not value:
        return ""
    digits = value.replace("-", "")
    if _MOBILE.match(digits):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) > 6:
        return f"{digits[:4]}{'*' * (len(digits) - 6)}{digits[-2:]}"
    return "*" * len(digits)



def mask_name(value: str | None) -> str:
    """张** for lists: the family name only."""
    value = (value or "").strip()
    return f"{value[0]}{'*' * min(len(value) - 1, 2)}" if len(value) > 1 else value
