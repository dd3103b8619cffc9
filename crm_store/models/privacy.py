"""The erasure log: which addresses were erased, and when — hashed, never the data itself."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, utcnow


class Erasure(Base):
    """One `crm person erase`: the SHA-256 of the normalised address, so a restore can erase the person again.

    It proves an address was erased only to someone who already knows the address; it reveals nothing else.
    """

    __tablename__ = "erasures"

    id: Mapped[intpk]
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    erased_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
