"""Who made a change: a member of staff, or an automation with its run id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The author of a change; staff changes move `last_touch_at`, automation changes do not."""

    user_id: int | None = None
    automation: str | None = None

    @classmethod
    def user(cls, user_id: int) -> Actor:
        """A change made by a member of staff."""
        return cls(user_id=user_id)

    @classmethod
    def system(cls, name: str, run_id: str | None = None) -> Actor:
        """A change made by an automation (a flow, the web form, an import)."""
        return cls(automation=f"{name}:{run_id}" if run_id else name)

    @property
    def is_staff(self) -> bool:
        """Whether a person made this change."""
        return self.user_id is not None


SYSTEM = Actor.system("system")
