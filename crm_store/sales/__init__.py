"""Sales documents: products, taxes, price books, quotes, sales orders, invoices, payments and stock.

    totals.py   the totals of a document from its lines, in Vtiger's order, exact (pure: no database)
"""
