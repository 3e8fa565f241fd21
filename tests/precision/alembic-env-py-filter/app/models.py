from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Food(Base):
    __tablename__ = "foods"
    id = Column(Integer, primary_key=True)
    group_id = Column(Integer)
    name = Column(String)
