"""One-off script: creates a trimmed copy of the tables in a scratch database."""
from sqlalchemy import Column, ForeignKey, Integer, create_engine
from sqlalchemy.orm import declarative_base

ScratchBase = declarative_base()


class User(ScratchBase):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    org_id = Column(Integer, ForeignKey("orgs.id"))


if __name__ == "__main__":
    ScratchBase.metadata.create_all(create_engine("sqlite://"))
