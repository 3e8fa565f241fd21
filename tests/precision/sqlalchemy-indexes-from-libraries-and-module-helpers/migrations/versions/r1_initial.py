from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("affiliation", sa.String()))
    op.execute("CREATE INDEX ix_users_affiliation_fts ON users (to_tsvector('simple', affiliation))")
    op.create_table("oauth2_tokens", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("user_id", sa.Integer()), sa.Column("access_token", sa.String(), unique=True))
    op.create_table("move_requests", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("event_id", sa.Integer()), sa.Column("state", sa.Integer()))
    op.create_index("ix_move_requests_pending", "move_requests", ["event_id"], sqlite_where=sa.text("state = 0"))
