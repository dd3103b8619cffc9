"""The documents area: files attached to records.

    routes.py     upload on a record's page (`POST /leads/LEA12/documents`: the store's size limit, its sniffed
                  type), download as an attachment (`/documents/DOC3/download`: within scope, audited); the
                  record page's Documents section (`record_documents(module, id)`) and its errors
    forms.py      the upload form
    files.py      how a file is shown: its kind in words ("PDF", "Word document") and its size ("1.2 MB")

The documents list (`/documents`) is one of the lists in `webform/staff/lists/`.
"""
