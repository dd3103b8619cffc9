"""Leadline's store: the data model and every business rule; it imports nothing else of ours."""
