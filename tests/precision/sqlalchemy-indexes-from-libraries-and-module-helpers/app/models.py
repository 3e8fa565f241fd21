from authlib.integrations.sqla_oauth2 import OAuth2TokenMixin
from sqlalchemy import Column, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import declarative_base

from app.search import make_fts_index

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    affiliation = Column(String)


make_fts_index(User.affiliation)


class Token(OAuth2TokenMixin, Base):
    # The library mixin declares access_token unique and indexes it.
    __tablename__ = "oauth2_tokens"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"))


class MoveRequest(Base):
    __tablename__ = "move_requests"
    __table_args__ = (Index("ix_move_requests_pending", "event_id", postgresql_where=text(f"state = {PENDING}")),)
    id = Column(Integer, primary_key=True)
    event_id = Column(Integer)
    state = Column(Integer)
