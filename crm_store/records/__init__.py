"""What every kind of record shares: the module registry, create/update/delete, validation, numbering,
audit trail, recycle bin, duplicates and merge, documents, bulk loads and personal-data requests."""
