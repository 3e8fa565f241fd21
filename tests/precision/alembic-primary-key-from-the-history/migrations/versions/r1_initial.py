from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("releases", sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id"))
    op.create_table(
        "release_vulnerabilities",
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("releases.id")),
        sa.Column("vulnerability", sa.Integer()),
    )
    op.create_index("ix_release_vulnerabilities_release_id", "release_vulnerabilities", ["release_id"])
