from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

# Read-only reporting models on a metadata autogenerate never compares.
ReportingBase = declarative_base()


class Event(ReportingBase):
    __tablename__ = "events"
    id = Column(Integer, primary_key=True)
    kind = Column(Integer)
