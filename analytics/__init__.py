"""Leadline analytics."""
