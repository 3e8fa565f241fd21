from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class File(Base):
    __tablename__ = "files"
    id = Column(Integer, primary_key=True)


class Attachment(Base):
    __tablename__ = "attachments"
    id = Column(Integer, primary_key=True)
    file_id = Column(Integer, ForeignKey("files.id"))
    # `file_id` here is the column defined above, not an expression.
    __table_args__ = (Index("ix_attachments_file_id", file_id),)
