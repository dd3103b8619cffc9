"""Leadline webform."""
