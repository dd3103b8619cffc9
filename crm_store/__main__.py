"""`python -m crm_store` runs the `crm` command."""

from .cli import main

main()
