"""A user's saved filters: a list's filter and sort kept under a name, per user and module."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, intpk, str100, utcnow


class SavedFilter(Base):
    """One saved filter: a list's query (`params`, the known filter and sort keys only) under its owner's name for it.

    Names are unique per user and module (`crm_store.records.saved_filters` also compares them regardless of
    case); a user's filters go with the user.
    """

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "module", "name", name="uq_saved_filters_user_module_name"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(20))
    name: Mapped[str100]
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
