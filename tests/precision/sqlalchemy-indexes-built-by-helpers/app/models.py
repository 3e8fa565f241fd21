from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlalchemy.orm import declarative_base, declared_attr

from app.helpers import principal_table_args

Base = declarative_base()


class Event(Base):
    __tablename__ = "events"
    id = Column(Integer, primary_key=True)


class EventPrincipal(Base):
    __tablename__ = "event_principals"
    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("events.id"))
    user_id = Column(Integer)

    @declared_attr
    def __table_args__(cls):
        return principal_table_args(cls)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (*extra_indexes("attachments"), Index("ix_attachments_kind", "kind"))
    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("events.id"))
    kind = Column(Integer)
