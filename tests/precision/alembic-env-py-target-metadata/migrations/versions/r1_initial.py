from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("kind", sa.Integer()))
    op.create_index("ix_events_kind", "events", ["kind"])
