from alembic import op
import sqlalchemy as sa

revision = "r2"
down_revision = "r1"


def upgrade():
    op.drop_constraint("uq_tokens_link_id_scopes", "tokens")
