"""Sales documents: products, taxes, price books, quotes, sales orders, invoices, payments and stock.

    products.py      products and services: codes, tax classes, specifications, an image; found and listed
    price_books.py   price books and their list prices
    taxes.py         taxes (name, rate); the business tax `crm init` starts with
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
    printing.py      a document's plain view → one HTML page (templates/document.html) → an A4 PDF (pure)
    print_view.py    that view read from the store: the saved amounts formatted, the letterhead, the buyer
    sending.py       the PDF emailed to the customer through the outbox, kept on the document, logged
"""
