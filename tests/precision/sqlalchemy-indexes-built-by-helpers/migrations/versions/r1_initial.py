from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table("event_principals", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("event_id", sa.Integer()), sa.Column("user_id", sa.Integer()))
    op.create_index("ix_event_principals_event_id", "event_principals", ["event_id"])
    op.create_table("attachments", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("event_id", sa.Integer()), sa.Column("kind", sa.Integer()))
    op.create_index("ix_attachments_event_id", "attachments", ["event_id"])
    op.create_index("ix_attachments_kind", "attachments", ["kind"])
