"""Reference data every installation starts with: picklists, currencies, sales processes, settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.automation import cadence
from crm_store.languages import N_
from crm_store.models import SalesProcess, SalesStage
from crm_store.pipeline import playbooks
from crm_store.records import numbering
from crm_store.settings import company, currencies, picklists

# (name, probability %, rotting days, won, lost)
STANDARD_STAGES = (
    (N_("Prospecting"), 10, 14, False, False),
    (N_("Qualification"), 20, 14, False, False),
    (N_("Needs Analysis"), 25, 21, False, False),
    (N_("Value Proposition"), 30, 21, False, False),
    (N_("Id. Decision Makers"), 40, 21, False, False),
    (N_("Perception Analysis"), 50, 21, False, False),
    (N_("Proposal or Price Quote"), 65, 14, False, False),
    (N_("Negotiation or Review"), 80, 10, False, False),
    (N_("Closed Won"), 100, None, True, False),
    (N_("Closed Lost"), 0, None, False, True),
)
PROJECT_STAGES = (
    (N_("Initial Contact"), 10, 14, False, False),
    (N_("Project Evaluation"), 20, 21, False, False),
    (N_("Needs Analysis"), 30, 21, False, False),
    (N_("Proposal"), 50, 21, False, False),
    (N_("Bidding / Competition"), 60, 30, False, False),
    (N_("Negotiation"), 80, 14, False, False),
    (N_("Closed Won"), 100, None, True, False),
    (N_("Closed Lost"), 0, None, False, True),
)
PROCESSES = ((N_("Standard Sales"), True, STANDARD_STAGES), (N_("Project Sales"), False, PROJECT_STAGES))


@dataclass
class SeedReport:
    """What one seeding added."""

    picklist_values: int = 0
    currencies: int = 0
    sales_processes: int = 0
    settings: int = 0
    counters: int = 0
    cadences: int = 0
    playbooks: int = 0

    def total(self) -> int:
        """Return how many rows were added in all."""
        return (
            self.picklist_values + self.currencies + self.sales_processes + self.settings + self.counters
            + self.cadences + self.playbooks
        )


def seed_processes(session: Session) -> int:
    """Add the standard and project sales processes when no process exists."""
    if session.scalar(select(SalesProcess.id).limit(1)) is not None:
        return 0
    for name, is_default, stages in PROCESSES:
        process = SalesProcess(name=name, is_default=is_default)
        process.stages = [
            SalesStage(name=s, position=i, probability=p, rotting_days=r, is_won=w, is_lost=lost)
            for i, (s, p, r, w, lost) in enumerate(stages, 1)
        ]
        session.add(process)
    return len(PROCESSES)


def seed_all(session: Session) -> SeedReport:
    """Seed everything that is missing; running it twice adds nothing."""
    report = SeedReport()
    report.picklist_values = picklists.seed(session)
    report.currencies = currencies.seed(session)
    session.flush()
    report.sales_processes = seed_processes(session)
    report.settings = len(company.seed(session))
    report.counters = numbering.seed(session)
    report.cadences = cadence.seed(session)
    session.flush()
    report.playbooks = playbooks.seed(session)  # after the processes: a playbook is a stage's
    session.flush()
    return report
