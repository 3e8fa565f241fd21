from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None
TABLE = "events"


def upgrade():
    op.create_table("events", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("a", sa.Integer()), sa.Column("b", sa.Integer()), sa.Column("c", sa.Integer()))
    op.create_index("ix_events_a", "events", ["a"])
    op.create_index("ix_events_b", "events", ["b"])
    for column in ["c"]:
        op.create_index(f"ix_{TABLE}_{column}", TABLE, [column])
