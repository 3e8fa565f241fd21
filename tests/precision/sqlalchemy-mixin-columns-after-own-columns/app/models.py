from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class IDModel(Base):
    __abstract__ = True
    id: Mapped[int] = mapped_column(primary_key=True)


class Discount(IDModel):
    __tablename__ = "discounts"


class DiscountProduct(IDModel):
    # CREATE TABLE lists the class's own columns first: the primary key is
    # (discount_id, id), which serves the foreign key on discount_id.
    __tablename__ = "discount_products"
    discount_id: Mapped[int] = mapped_column(ForeignKey("discounts.id"), primary_key=True)
