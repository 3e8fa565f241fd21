from sqlalchemy import Boolean, ForeignKey, Index, Integer, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        Index("deals_owner_stage_idx", "owner_id", "stage"),
        Index("deals_open_owner_idx", "owner_id", postgresql_where=text("NOT closed")),
        Index(
            "deals_one_open_per_owner",
            "owner_id",
            unique=True,
            postgresql_where=text("NOT closed AND stage = 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    stage: Mapped[int] = mapped_column(Integer)
    closed: Mapped[bool] = mapped_column(Boolean)
