from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Release(Base):
    __tablename__ = "releases"
    id = Column(Integer, primary_key=True)


class ReleaseVulnerability(Base):
    # primary_key=True only tells the ORM how to map rows: the history made
    # no primary key, so the index on release_id is the only one.
    __tablename__ = "release_vulnerabilities"
    release_id = Column(Integer, ForeignKey("releases.id"), primary_key=True, index=True)
    vulnerability = Column(Integer, primary_key=True)
