"""Running the CRM: backup and restore, the `crm up` supervisor, demo data."""
