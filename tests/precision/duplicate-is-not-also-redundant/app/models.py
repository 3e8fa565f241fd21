from sqlalchemy import Column, Index, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (
        Index("ix_item_a", "a"),
        Index("ix_item_a_again", "a"),
        Index("ix_item_a_b", "a", "b"),
    )

    id = Column(Integer, primary_key=True)
    a = Column(Integer)
    b = Column(Integer)
