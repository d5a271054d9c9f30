"""Reply attachments: photos and PDFs, checked by their bytes (not their names), kept on disk
under the instance folder by SHA-256 digest; the database keeps only the description."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from saas.extensions import db
from modules.dispatch.models import Assignment, Attachment

MAX_FILES = 5
MAX_BYTES = 10 * 1024 * 1024
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
)


@dataclass(frozen=True)
class Checked:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def _kind(head: bytes):
    for signature, content_type, suffix in SIGNATURES:
        if head.startswith(signature):
            return content_type, suffix
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def check(files) -> tuple[list[Checked], str | None]:
    """Read and check every file before anything is stored; one message names the first problem."""
    files = [f for f in files or [] if f is not None and getattr(f, "filename", "")]
    if len(files) > MAX_FILES:
        return [], f"附件最多{MAX_FILES}个"
    checked = []
    for f in files:
        data = f.read(MAX_BYTES + 1)
        name = Path(f.filename).name[:128] or "附件"
        if len(data) > MAX_BYTES:
            return [], f"附件“{name}”超过{MAX_BYTES // 1024 // 1024}MB"
        if not data:
            return [], f"附件“{name}”是空文件"
        kind = _kind(data[:16])
        if kind is None:
            return [], f"附件“{name}”不是JPEG、PNG、WebP图片或PDF文件"
        checked.append(Checked(name, kind[0], data, hashlib.sha256(data).hexdigest()))
    return checked, None


def root() -> Path:
    return Path(current_app.config.get("ATTACHMENT_DIR") or Path(current_app.instance_path) / "attachments")


def path_of(sha256: str) -> Path:
    return root() / sha256[:2] / sha256


def store(checked: list[Checked], assignment: Assignment, actor) -> list[Attachment]:
    rows = []
    for item in checked:
        target = path_of(item.sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            tmp.write_bytes(item.data)
            tmp.replace(target)
        row = Attachment(tenant_id=assignment.tenant_id, assignment_id=assignment.id, case_id=assignment.case_id,
                         filename=item.filename, content_type=item.content_type, size=len(item.data),
                         sha256=item.sha256, uploaded_by_id=actor.user.id if actor.user else None)
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    return rows
