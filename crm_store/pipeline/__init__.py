"""How leads become deals: open-lead rules, conversion, sales stages and their history, activities and notes."""
