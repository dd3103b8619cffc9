"""Sales documents: products, taxes, price books, quotes, sales orders, invoices, payments and stock.

    totals.py        the totals of a document from its lines, in Vtiger's order, exact (pure: no database)
    documents.py     quotes, sales orders and invoices created and changed with their lines
    headers.py       a document's header values: checked, defaults, currency, price book, chosen taxes
    line_items.py    a document's lines: products found, priced and taxed
    invoices.py      what an invoice adds to a save: balance, the Paid and Cancel locks, stock
    conversions.py   quote → sales order → invoice, totals kept
    payments.py      payments on invoices: received, balance, Paid
    stock.py         invoices take and give back stock (Vtiger's rules); adjustments; low stock
    transactions.py  an account's quotes, orders, invoices and payments, newest first
    bulk.py          many documents at once (demo data, benchmarks)
"""
