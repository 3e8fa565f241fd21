from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("billing_entry", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("deleted_at", sa.Integer()), sa.Column("kind", sa.Integer()))
    op.create_index("ix_billing_entry_deleted_at", "billing_entry", ["deleted_at"])
    op.create_index("ix_billing_entry_kind", "billing_entry", ["kind"])
