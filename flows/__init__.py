"""Leadline's scheduled flows: thin Prefect 3 flows over `crm_store.automation`, and `crm flows`.

See `catalog.py` for which job each flow runs, `cli.py` for the commands and the `crm up` service, and
`docs/architecture.md` for the rest. Only the flow files, `runs.py` and `deployments.py` import Prefect.
"""
