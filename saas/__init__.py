"""The core every module stands on: app factory, scoped database session, auth, permissions, audit, jobs."""
