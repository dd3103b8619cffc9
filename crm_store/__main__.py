"""`python -m crm_store` runs the `crm` command."""

from crm_store.cli import main

main()
