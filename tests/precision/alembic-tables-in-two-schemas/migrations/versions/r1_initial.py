from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("files", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String()), schema="attachments")
    op.create_table("files", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("uuid", sa.String()), schema="storage")
    op.create_index("ix_storage_files_uuid", "files", ["uuid"], unique=True, schema="storage")
    op.execute("CREATE INDEX ix_files_name ON attachments.files (name)")
    op.execute("DROP INDEX attachments.ix_files_name")
