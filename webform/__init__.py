"""Leadline's web app: public web-to-lead capture (and, later, the staff back office)."""

from .app import create_app

__all__ = ["create_app"]
