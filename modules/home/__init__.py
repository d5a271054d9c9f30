"""The home page: who you are, where, and the tenant's real figures."""
