"""case numbers drawn inside the case's INSERT on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:30:00

"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # The day's counter is bumped by the INSERT that uses the number (modules.cases.service.numbering):
    # the same upsert and format as SQLite's separate statement, one round trip instead of two.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION next_case_number(p_tenant integer, p_day date, p_prefix text) RETURNS text
            LANGUAGE sql VOLATILE AS $$
                INSERT INTO case_counters AS c (tenant_id, day, last) VALUES (p_tenant, p_day, 1)
                ON CONFLICT (tenant_id, day) DO UPDATE SET last = c.last + 1
                RETURNING p_prefix || lpad(c.last::text, greatest(5, length(c.last::text)), '0')
            $$""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS next_case_number(integer, date, text)")
