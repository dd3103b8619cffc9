"""Search leads, accounts, contacts and opportunities by name, company, email, phone and record number.

Every live record has one search document (`crm_store.models.search`): its record number, whether it
is open, a normalised body (names in both orders, company, emails) and its phone digits. Any substring
of two or more characters is found through the gram tables, never by scanning records: a term of three
or more characters through its rarest trigrams, a two-character term through the range of trigrams it
begins, four or more digits through the phone grams, a record number (LEA12) through its own index.
Candidates are checked against the stored text and ranked exact > prefix > substring, then open
records first, then newest (document ids grow with the records' creation time).

Functions take the caller's session and never commit. Call `index_records` after records are
created, changed or deleted; a bulk load calls `rebuild_index` once at the end.
"""
