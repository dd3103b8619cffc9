"""The records area: the lists, record pages, create and edit forms, and what is done from a record page.

    modules.py    the `module` URL converter (the four modules' url paths) and a record's path
    routes.py     lists (`/leads`) and record pages (`/leads/LEA12`)
    editing.py    new, edit, delete to the recycle bin (after a confirmation)
    changes.py    change the owner, change an opportunity's stage, take a pool lead, convert a lead
    forms.py      the filter, record, owner, stage and conversion forms
    fields.py     which fields each module's create/edit form has, and their picklists
    pickers.py    the selects' choices: users in scope, visible accounts, stages, picklists
"""
