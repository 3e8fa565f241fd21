from alembic import op
import sqlalchemy as sa

from app.sql import DROP_B

revision = "r2"
down_revision = "r1"
TABLE = "events"
INDEX_A = f"ix_{TABLE}_a"
DROPPED = [INDEX_A]


def upgrade():
    for name in DROPPED:
        op.drop_index(name, table_name=TABLE)
    op.execute(DROP_B)
