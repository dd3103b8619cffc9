"""Leadline emails."""
