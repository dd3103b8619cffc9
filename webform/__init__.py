"""Leadline's web app: public web-to-lead capture (and, later, the staff back office).

`create_app` is imported on first use, so `crm serve --help` does not load Flask and the store.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from webform.app import create_app

        return create_app
    raise AttributeError(f"module 'webform' has no attribute {name!r}")
