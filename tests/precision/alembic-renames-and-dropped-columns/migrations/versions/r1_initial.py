from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("releases", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String()), sa.Column("version", sa.String()), sa.Column("legacy", sa.String()))
    op.create_index("ix_releases_name_version", "releases", ["name", "version"])
    op.execute("CREATE INDEX ix_releases_norm ON releases (lower(legacy), version)")
