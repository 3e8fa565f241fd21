from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Link(Base):
    __tablename__ = "links"
    id = Column(Integer, primary_key=True)


class Token(Base):
    __tablename__ = "tokens"
    id = Column(Integer, primary_key=True)
    link_id = Column(Integer, ForeignKey("links.id"), index=True)
    scopes = Column(String)
