from alembic import op
import sqlalchemy as sa

revision = "r2"
down_revision = "r1"


def upgrade():
    op.drop_constraint("foods_group_id_name_key", "foods", type_="unique")
