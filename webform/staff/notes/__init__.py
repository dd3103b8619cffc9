"""The notes card of every record page: notes with a memo reminder on leads, accounts, contacts, opportunities,
quotes, sales orders, invoices and products.

    routes.py     write a note on a record (`POST /quotes/QUO12/notes`: its text, an optional reminder in the
                  viewer's zone), edit one's own (`/notes/7/edit`), delete one (`POST /notes/7/delete`); the
                  card's rows and form for the pages (`notes_card(module, id, number)`), a failed form's errors
                  beside its fields
    forms.py      the note form

The reminders flow (`crm_store.automation.reminders`) emails a memo to its author when its time comes; My day
lists the memos due today.
"""
