from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class BillingEntry(Base):
    __tablename__ = "billing_entry"
    id = Column(Integer, primary_key=True)
    deleted_at = Column(Integer)
    kind = Column(Integer)
