"""Background job health for admins: queue lengths, failed jobs, retry."""
