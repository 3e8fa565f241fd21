from alembic import context

from app.models import Base

target_metadata = Base.metadata


def include_object(object, name, type_, reflected, compare_to):
    # made by hand in a revision; autogenerate must not drop it
    if type_ == "unique_constraint" and name == "foods_name_group_id_key":
        return False
    return not name.startswith("legacy_")


context.configure(target_metadata=target_metadata, include_object=include_object)
