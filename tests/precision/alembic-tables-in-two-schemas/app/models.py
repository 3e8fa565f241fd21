from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class AttachmentFile(Base):
    __tablename__ = "files"
    __table_args__ = {"schema": "attachments"}
    id = Column(Integer, primary_key=True)
    name = Column(String)


class StoredFile(Base):
    __tablename__ = "files"
    __table_args__ = {"schema": "storage"}
    id = Column(Integer, primary_key=True)
    uuid = Column(String, index=True, unique=True)
