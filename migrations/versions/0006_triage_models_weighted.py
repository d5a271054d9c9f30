"""hubs' triage models trained by the earlier engine are dropped

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:00:00

"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # A hub's model holds weights for the features as the engine reads them. The earlier engine read
    # raw counts; this one reads weighted features (modules.triage.model.weigh), so those weights
    # would score nonsense. Without a model a hub uses the corpus model until the nightly job
    # retrains it from its closed cases (modules.triage.training.retrain_if_new_cases).
    op.execute("DELETE FROM triage_models")


def downgrade():
    pass  # the deleted models are not restored: the nightly job trains new ones
