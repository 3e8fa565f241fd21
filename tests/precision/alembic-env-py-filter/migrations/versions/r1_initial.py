from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("foods", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("group_id", sa.Integer()), sa.Column("name", sa.String()))
    op.create_unique_constraint("foods_name_group_id_key", "foods", ["name", "group_id"])
    op.create_index("legacy_foods_group", "foods", ["group_id"])
