from sqlalchemy import Index


def principal_table_args(cls):
    return (Index(f"ix_{cls.__tablename__}_event_id", "event_id"),)


def extra_indexes(table):
    return [Index(f"ix_{table}_event_id", "event_id")]
