"""The people who use the CRM: users, their roles and languages, and signed links sent to them."""
