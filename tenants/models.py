from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.db import UTCDateTime, utcnow
from saas.extensions import db

LEVELS = {"province": "省级", "city": "市级", "county": "县级"}
PLATFORMS = {"12345": "12345热线", "110": "110报警服务台"}


class Tenant(db.Model):
    """An administrative division that uses Liandong. Not tenant-owned: the tree is shared."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    # Materialised path of codes ("140000/140100/140105"): descendants are a prefix match.
    path: Mapped[str] = mapped_column(String(255), index=True)
    is_hub: Mapped[bool] = mapped_column(Boolean, default=False)
    # The tenant where this one's 12345 and 110 meet: itself, or its nearest hub ancestor.
    hub_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    runs_12345: Mapped[bool] = mapped_column(Boolean, default=True)
    runs_110: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Tenant | None] = relationship(remote_side=[id], foreign_keys=[parent_id])
    hub: Mapped[Tenant | None] = relationship(remote_side=[id], foreign_keys=[hub_id])

    @property
    def level_label(self) -> str:
        return LEVELS.get(self.level, self.level)

    @property
    def platforms(self) -> list[str]:
        return [p for p, runs in (("12345", self.runs_12345), ("110", self.runs_110)) if runs]

    def __repr__(self) -> str:
        return f"<Tenant {self.code} {self.name}>"
