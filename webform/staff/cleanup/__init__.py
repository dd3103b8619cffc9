"""Cleaning up records: the possible duplicates and a field-by-field merge of 2–3 of them (undone from the kept
record's timeline), and the recycle bin (restore; delete for good, admins)."""
