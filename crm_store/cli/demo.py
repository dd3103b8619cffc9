"""`crm demo`: load demo users and records, with a progress bar."""

from __future__ import annotations

import time

import click

from crm_store.cli.output import Column, progress, table
from crm_store.cli.params import LazyChoice
from crm_store.languages import N_

DEMO_PASSWORD = N_("Password of each of them: %(password)s (sign in at %(url)s)")


def _sizes() -> list[str]:
    from crm_store.ops.demo import SIZES

    return sorted(SIZES)


@click.command()
@click.option("--size", type=LazyChoice(_sizes), default="small", show_default=True,
              help="small: 10 users, 2,000 leads, 150 invoices (seconds). large: 1,000,000 leads and 200,000 invoices "
                   "for benchmarks (minutes).")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="Random seed; the same seed gives the same data.")
def demo(size: str, seed: int) -> None:
    """Create demo users, records, products and 18 months of quotes, orders, invoices and payments."""
    from crm_store.db.engine import session_scope
    from crm_store.ops.demo import SIZES, DemoAlreadyLoaded, demo_password, load_demo
    from crm_store.ops.demo_sales import progress_total

    plan = SIZES[size]
    total = plan.accounts + plan.contacts + plan.leads + plan.opportunities + progress_total(size)
    started = time.perf_counter()
    try:
        with session_scope() as session, progress(total, f"Loading {size} demo", show_eta=True) as bar:
            password = demo_password()
            counts = load_demo(session, size, seed=seed, progress=lambda _stage, n: bar.update(n), password=password)
    except DemoAlreadyLoaded as exc:
        click.echo(f"Demo data is already loaded ({exc}); nothing to do. Use a fresh CRM_DATA_DIR for another load.")
        return
    elapsed = time.perf_counter() - started
    click.echo(f"Loaded the {size} demo in {elapsed:.1f} s:")
    for line in table((Column("TABLE"), Column("ROWS", right=True)), [(t, f"{n:,}") for t, n in counts.items()]):
        click.echo(f"  {line}")
    click.echo("Sign-ins: admin@example.com (admin), manager@example.com (manager), rep1..rep"
               f"{plan.reps}@example.com (reps).")
    click.echo(_signing_in(password))
    click.echo("Next: `crm search 有限公司`, `crm search LEA12`, `crm invoices list`, `crm accounts transactions "
               "ACC1`, `crm users list`, `crm mail status`, `crm settings list`.")


def _signing_in(password: str) -> str:
    from crm_store import links
    from crm_store.config import load_config

    return DEMO_PASSWORD % {"password": password, "url": links.url(load_config().base_url, "sign_in")}
