"""Leadline flows."""
