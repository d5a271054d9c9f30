"""The audit log page: who did what, where and when (read-only)."""
