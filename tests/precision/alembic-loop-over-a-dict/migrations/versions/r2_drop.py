from alembic import op

revision = "r2"
down_revision = "r1"

INDEXES = {
    "ix_billing_entry_deleted_at": ["deleted_at"],
    "ix_billing_entry_kind": ["kind"],
}


def upgrade():
    with op.get_context().autocommit_block():
        for index_name in INDEXES:
            op.drop_index(index_name, table_name="billing_entry", if_exists=True)


def downgrade():
    for index_name, columns in INDEXES.items():
        op.create_index(index_name, "billing_entry", columns)
