"""Web-to-lead: web-form definitions, submissions turned into leads, the spam quarantine."""
