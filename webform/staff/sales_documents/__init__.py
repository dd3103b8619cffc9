"""Quotes, sales orders and invoices: their lists, pages, the line editor, conversions, payments, print and send.

    modules.py    the `sales` URL converter (quotes, sales-orders, invoices) and a document's paths
    routes.py     the lists (`/quotes`) and pages (`/quotes/QUO12`: header, lines, totals; an invoice's payments);
                  convert (POST), record a payment (POST), the printable page and the PDF (audited)
    editing.py    new and edit with the line editor: lines added by product name or code, the totals block
                  computed by the store on the unsaved form (`/quotes/totals`, and "Recalculate" without script)
    sending.py    "Send to customer": who it goes to, then the PDF emailed through the outbox
    forms.py      the header, line, payment, conversion and send forms
    editor.py     the editor's form read as the store takes it, and the store's errors put on their line

The documents' rules are crm_store/sales's (documents, conversions, payments, printing, sending); the pages show
what they compute and never compute an amount themselves. The script (`static/sales_documents.js`) adds and
removes lines, suggests products and asks for the totals block as you edit; everything works without it.
"""
