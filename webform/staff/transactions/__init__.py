"""An account's Transactions tab: its quotes, orders, invoices and payments, what it owes, the products it bought."""
