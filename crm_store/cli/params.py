"""Parameter types the `crm` commands share: choices read from the store when a command runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click


class LazyChoice(click.Choice[str]):
    """A choice among values looked up when the command runs, so importing the command stays cheap."""

    def __init__(self, values: Callable[[], Sequence[str]]) -> None:
        super().__init__(())
        self.values = values

    @property  # type: ignore[override]  # click keeps the choices as an attribute; ours are read live
    def choices(self) -> Sequence[str]:
        """The values to choose from."""
        return tuple(self.values())

    @choices.setter
    def choices(self, _value: Any) -> None:
        """Ignore click's own assignment in `Choice.__init__`."""


def module_choice(**role: bool) -> LazyChoice:
    """The name of a module that plays a role (`module_choice(searchable=True)`), as the registry says."""

    def names() -> list[str]:
        from crm_store.records import registry

        return sorted(registry.names(**role))

    return LazyChoice(names)


def language_choice() -> LazyChoice:
    """A language code of the product (en, zh_Hant)."""

    def codes() -> tuple[str, ...]:
        from crm_store import languages

        return languages.CODES

    return LazyChoice(codes)


def role_choice() -> LazyChoice:
    """A staff role (admin, manager, rep)."""

    def roles() -> tuple[str, ...]:
        from crm_store.models import ROLES

        return ROLES

    return LazyChoice(roles)
