"""Who made a change: a member of staff, or an automation with its run id."""

from __future__ import annotations

from dataclasses import dataclass

from crm_store.languages import N_, translate

# Automations in words, by the name they record (`Actor.system(name, run_id)`); `%(run)s` is the run id.
AUTOMATIONS = {
    "cli": N_("command line"),
    "system": N_("system"),
    "webform": N_("web form %(run)s (system)"),
    "intake": N_("intake"),
    "mail": N_("mail worker"),
    "import": N_("import %(run)s"),
    "demo": N_("demo data %(run)s"),
}


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


def describe_automation(automation: str, language: str = "en") -> str:
    """An automation as people read it: "web form Kx1aB2 (system)", "intake", "mail worker", "command line"."""
    name, _, run = automation.partition(":")
    known = AUTOMATIONS.get(name)
    if known is None:  # one not named above yet: its own name, in words
        return " ".join([*name.replace("_", " ").replace("-", " ").split(), run]).strip()
    words = translate(language, known, run=run) if "%(run)s" in known else translate(language, known)
    if run and "%(run)s" not in known:
        words = f"{words} {run}"
    return " ".join(words.split())


SYSTEM = Actor.system("system")
