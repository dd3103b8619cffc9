"""Products, price books and stock: what the company sells, its prices and what is left on the shelf.

    routes.py       the products list, a product's page (image, stock, taxes, specifications, price-book prices),
                    its image, the low-stock list and the stock adjustment
    price_books.py  the price books list and a price book's page; set a product's price in a book
    editing.py      add and edit a product or a price book
    tools.py        the products list's saved filters and CSV export (`/products/filters`, `/products/export.csv`)
    forms.py        their forms, named as the store names the fields (its errors land beside them)

The catalogue is the company's: every signed-in user sees it (a rep picks any product for a quote).
Managers and admins change it — products, price books, prices and stock (`keeper_required`).
"""
