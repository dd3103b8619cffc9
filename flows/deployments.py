"""The deployments `crm flows serve` serves: one per flow of the catalog, on its cron in the company's zone.

The zone lives in the database (`time_zone`), so the schedules are built from it when serving starts: after
the zone changes, restart `crm flows serve` (or run `prefect deploy --all` again for `prefect.yaml`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from crm_store.errors import CrmError
from flows import catalog

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

TAGS = ["leadline"]


def parse_overrides(values: Iterable[str]) -> dict[str, str]:
    """`--cron NAME=EXPR` values as {flow name: cron}; an unknown flow or a bad cron is a one-line error."""
    from prefect.schedules import Cron

    found: dict[str, str] = {}
    for value in values:
        name, sep, cron = value.partition("=")
        if not sep or not cron.strip():
            raise CrmError(f"--cron: {value!r} is not NAME=EXPRESSION, e.g. deliver-email='* * * * *'")
        entry = catalog.entry(name.strip())
        try:
            Cron(cron.strip())
        except ValueError as exc:
            raise CrmError(f"--cron: {cron.strip()!r} is not a cron expression for {entry.name}: {exc}") from None
        found[entry.name] = cron.strip()
    return found


def schedules(overrides: Mapping[str, str], only: Sequence[str] = ()) -> dict[str, str]:
    """The cron of each flow to serve (the catalog's, or its override), all of them unless `only` names some."""
    chosen = [catalog.entry(name).name for name in only] or catalog.names()
    return {name: overrides.get(name, catalog.entry(name).schedule.cron) for name in chosen}


def build(zone: str, crons: Mapping[str, str]) -> list[RunnerDeployment]:
    """One deployment per flow: named after it, on its cron in `zone`, its entrypoint a module path."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    built = []
    for name, cron in crons.items():
        entry = catalog.entry(name)
        deployment = catalog.flow(name).to_deployment(
            name=name, schedules=[Cron(cron, timezone=zone)], description=entry.schedule.description,
            tags=TAGS, entrypoint_type=EntrypointType.MODULE_PATH,  # runs wherever the package is installed
        )
        built.append(deployment)
    return built
