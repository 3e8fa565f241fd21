from alembic import op
import sqlalchemy as sa

revision = "r2"
down_revision = "r1"


def upgrade():
    op.alter_column("releases", "name", new_column_name="project")
    op.execute("ALTER INDEX ix_releases_name_version RENAME TO ix_releases_project_version")
    op.drop_column("releases", "legacy")
