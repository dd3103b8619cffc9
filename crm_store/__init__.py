"""Leadline crm_store."""
