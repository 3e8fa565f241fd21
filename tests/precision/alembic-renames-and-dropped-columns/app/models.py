from sqlalchemy import Column, Index, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_project_version", "project", "version"),)
    id = Column(Integer, primary_key=True)
    project = Column(String)
    version = Column(String)
