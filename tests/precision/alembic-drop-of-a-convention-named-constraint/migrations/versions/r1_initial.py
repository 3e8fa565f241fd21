from alembic import op
import sqlalchemy as sa

revision = "r1"
down_revision = None


def upgrade():
    op.create_table("links", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table("tokens", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("link_id", sa.Integer()), sa.Column("scopes", sa.String()))
    op.create_index("ix_tokens_link_id", "tokens", ["link_id"])
    # named by the project's naming convention: uq_tokens_link_id_scopes
    op.create_unique_constraint(None, "tokens", ["link_id", "scopes"])
    op.drop_constraint("fk_tokens_link_id_links", "tokens", type_="foreignkey")
