"""People and posts: users, their memberships in a tenant, and API tokens."""
