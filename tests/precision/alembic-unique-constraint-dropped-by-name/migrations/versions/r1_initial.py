from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("groups", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table(
        "foods",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("groups.id")),
        sa.Column("name", sa.String()),
        sa.UniqueConstraint("group_id", "name", name="foods_group_id_name_key"),
    )
    op.create_index("ix_foods_group_id", "foods", ["group_id"])
