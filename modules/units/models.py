from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db

KINDS = {
    "department": "职能部门",
    "township": "乡镇（街道）",
    "utility": "公用事业单位",
    "telecom": "通信运营商",
    "other": "其他单位",
}


class Unit(TenantOwned, db.Model):
    """A member unit (承办单位) of a tenant; `code` is unique in the deployment."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    liaison_name: Mapped[str] = mapped_column(String(64))
    liaison_phone: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)
