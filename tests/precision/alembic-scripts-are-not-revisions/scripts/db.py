"""Operations helper: upgrade or downgrade the database to a revision."""
from alembic import command


def upgrade(config, revision="head"):
    down_revision = None
    command.upgrade(config, revision)
