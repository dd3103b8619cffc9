"""Issue 16: products and services, taxes, price books, quotes, sales orders, invoices, their lines, payments.

Activities, notes and documents attach to products and the sales documents (four more link columns each);
accounts gain their tax id (統一編號). On SQLite the link columns are added with ALTER TABLE and an inline
REFERENCES (a batch "recreate" would copy the activities table and could lose its partial indexes).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 19:55:06.196255
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm_store.models.base

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


LINKS = (("product_id", "products"), ("quote_id", "quotes"), ("sales_order_id", "sales_orders"),
         ("invoice_id", "invoices"))


def _link_columns(table: str) -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for column, target in LINKS:
        name = f'fk_{table}_{column}_{target}'
        key = sa.Integer().with_variant(sa.BigInteger(), 'postgresql')
        if sqlite:
            op.execute(f'alter table {table} add column {column} integer constraint {name} references {target} (id)')
        else:
            op.add_column(table, sa.Column(column, key, nullable=True))
            op.create_foreign_key(name, table, target, [column], ['id'])
        op.create_index(f'ix_{table}_{column}', table, [column], unique=False)


def _drop_link_columns(table: str) -> None:
    """Undo `_link_columns`. On SQLite the inline REFERENCES has no name a reflection finds, so no batch "recreate":
    the index goes, then the column (SQLite 3.35+ drops a column with its inline constraint)."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for column, target in reversed(LINKS):
        op.drop_index(f'ix_{table}_{column}', table_name=table)
        if sqlite:
            op.execute(f'alter table {table} drop column {column}')
        else:
            op.drop_constraint(f'fk_{table}_{column}_{target}', table, type_='foreignkey')
            op.drop_column(table, column)


SEARCHED = ('products', 'quotes', 'sales_orders', 'invoices')  # new searched modules (see 0014)


def _search_owner_triggers() -> None:
    """As 0014 does for the first four: a record's new owner is written to its search document by the database."""
    for table in SEARCHED:
        if op.get_context().dialect.name == 'postgresql':
            op.execute(f"CREATE TRIGGER trg_{table}_search_owner AFTER UPDATE OF owner_id ON {table} FOR EACH ROW "
                       f"WHEN (NEW.owner_id IS DISTINCT FROM OLD.owner_id) "
                       f"EXECUTE FUNCTION search_document_owner('{table}')")
        else:
            op.execute(f"CREATE TRIGGER trg_{table}_search_owner AFTER UPDATE OF owner_id ON {table} FOR EACH ROW "
                       f"WHEN NEW.owner_id IS NOT OLD.owner_id BEGIN "
                       f"UPDATE search_documents SET owner_id = NEW.owner_id "
                       f"WHERE module = '{table}' AND record_id = NEW.id; END")


def upgrade() -> None:
    op.create_table('taxes',
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('rate', crm_store.models.base.Percent(precision=20, scale=3), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('applies_to_shipping', sa.Boolean(), nullable=False),
    sa.CheckConstraint('rate >= 0', name=op.f('ck_taxes_rate')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_taxes')),
    sa.UniqueConstraint('name', name=op.f('uq_taxes_name'))
    )
    op.create_table('price_books',
    sa.Column('price_book_no', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('currency_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('owner_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('deleted_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_price_books_batch_id_batches')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_price_books_created_by_id_users')),
    sa.ForeignKeyConstraint(['currency_id'], ['currencies.id'], name=op.f('fk_price_books_currency_id_currencies')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_price_books_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_books')),
    sa.UniqueConstraint('price_book_no', name=op.f('uq_price_books_price_book_no'))
    )
    with op.batch_alter_table('price_books', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_books_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_books_owner_id'), ['owner_id'], unique=False)

    op.create_table('products',
    sa.Column('product_no', sa.String(length=20), nullable=False),
    sa.Column('product_code', sa.String(length=100), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('product_type', sa.String(length=10), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('manufacturer', sa.String(length=100), nullable=True),
    sa.Column('unit_price', crm_store.models.base.Money(precision=20, scale=4), nullable=True),
    sa.Column('currency_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('usage_unit', sa.String(length=100), nullable=True),
    sa.Column('qty_in_stock', crm_store.models.base.Quantity(precision=20, scale=3), nullable=True),
    sa.Column('reorder_level', crm_store.models.base.Quantity(precision=20, scale=3), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('specifications', sa.JSON(), nullable=False),
    sa.Column('image_document_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('owner_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('deleted_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.CheckConstraint("product_type in ('product','service')", name=op.f('ck_products_product_type')),
    sa.CheckConstraint('reorder_level >= 0', name=op.f('ck_products_reorder_level')),
    sa.CheckConstraint('unit_price >= 0', name=op.f('ck_products_unit_price')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_products_batch_id_batches')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_products_created_by_id_users')),
    sa.ForeignKeyConstraint(['currency_id'], ['currencies.id'], name=op.f('fk_products_currency_id_currencies')),
    sa.ForeignKeyConstraint(['image_document_id'], ['documents.id'], name=op.f('fk_products_image_document_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_products_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('product_code', name=op.f('uq_products_product_code')),
    sa.UniqueConstraint('product_no', name=op.f('uq_products_product_no'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_products_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_products_name', ['name', 'id'], unique=False)
        batch_op.create_index('ix_products_owner_created', ['owner_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_owner_id'), ['owner_id'], unique=False)

    op.create_table('price_book_prices',
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('price_book_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('product_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('list_price', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.CheckConstraint('list_price >= 0', name=op.f('ck_price_book_prices_list_price')),
    sa.ForeignKeyConstraint(['price_book_id'], ['price_books.id'], name=op.f('fk_price_book_prices_price_book_id_price_books'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_price_book_prices_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_book_prices')),
    sa.UniqueConstraint('price_book_id', 'product_id', name=op.f('uq_price_book_prices_price_book_id'))
    )
    with op.batch_alter_table('price_book_prices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_book_prices_product_id'), ['product_id'], unique=False)

    op.create_table('product_taxes',
    sa.Column('product_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('tax_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_taxes_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tax_id'], ['taxes.id'], name=op.f('fk_product_taxes_tax_id_taxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('product_id', 'tax_id', name=op.f('pk_product_taxes'))
    )
    with op.batch_alter_table('product_taxes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_taxes_tax_id'), ['tax_id'], unique=False)

    op.create_table('quotes',
    sa.Column('quote_no', sa.String(length=20), nullable=False),
    sa.Column('valid_till', sa.Date(), nullable=True),
    sa.Column('carrier', sa.String(length=100), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=100), nullable=False),
    sa.Column('conversion_rate', crm_store.models.base.Rate(precision=20, scale=8), server_default=sa.text('1'), nullable=False),
    sa.Column('tax_mode', sa.String(length=10), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), nullable=False),
    sa.Column('bill_street', sa.String(length=250), nullable=True),
    sa.Column('bill_city', sa.String(length=100), nullable=True),
    sa.Column('bill_state', sa.String(length=100), nullable=True),
    sa.Column('bill_postal_code', sa.String(length=30), nullable=True),
    sa.Column('bill_country', sa.String(length=100), nullable=True),
    sa.Column('bill_po_box', sa.String(length=30), nullable=True),
    sa.Column('ship_street', sa.String(length=250), nullable=True),
    sa.Column('ship_city', sa.String(length=100), nullable=True),
    sa.Column('ship_state', sa.String(length=100), nullable=True),
    sa.Column('ship_postal_code', sa.String(length=30), nullable=True),
    sa.Column('ship_country', sa.String(length=100), nullable=True),
    sa.Column('ship_po_box', sa.String(length=30), nullable=True),
    sa.Column('terms', sa.Text(), nullable=True),
    sa.Column('discount_percent', crm_store.models.base.Percent(precision=20, scale=3), nullable=True),
    sa.Column('discount_amount', crm_store.models.base.Money(precision=20, scale=4), nullable=True),
    sa.Column('shipping_amount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('adjustment', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('subtotal', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('overall_discount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('shipping_tax', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('pre_tax_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('tax_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('grand_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('taxes', sa.JSON(), nullable=False),
    sa.Column('shipping_taxes', sa.JSON(), nullable=False),
    sa.Column('account_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('contact_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('opportunity_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('currency_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('price_book_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('owner_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('deleted_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_quotes_account_id_accounts')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_quotes_batch_id_batches')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_quotes_contact_id_contacts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_quotes_created_by_id_users')),
    sa.ForeignKeyConstraint(['currency_id'], ['currencies.id'], name=op.f('fk_quotes_currency_id_currencies')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_quotes_opportunity_id_opportunities')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_quotes_owner_id_users')),
    sa.ForeignKeyConstraint(['price_book_id'], ['price_books.id'], name=op.f('fk_quotes_price_book_id_price_books')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes')),
    sa.UniqueConstraint('quote_no', name=op.f('uq_quotes_quote_no'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index('ix_quotes_account_created', ['account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_quotes_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quotes_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quotes_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_quotes_created', ['created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quotes_opportunity_id'), ['opportunity_id'], unique=False)
        batch_op.create_index('ix_quotes_owner_created', ['owner_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quotes_owner_id'), ['owner_id'], unique=False)

    op.create_table('sales_orders',
    sa.Column('sales_order_no', sa.String(length=20), nullable=False),
    sa.Column('quote_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('carrier', sa.String(length=100), nullable=True),
    sa.Column('purchase_order', sa.String(length=100), nullable=True),
    sa.Column('customer_no', sa.String(length=100), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=100), nullable=False),
    sa.Column('conversion_rate', crm_store.models.base.Rate(precision=20, scale=8), server_default=sa.text('1'), nullable=False),
    sa.Column('tax_mode', sa.String(length=10), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), nullable=False),
    sa.Column('bill_street', sa.String(length=250), nullable=True),
    sa.Column('bill_city', sa.String(length=100), nullable=True),
    sa.Column('bill_state', sa.String(length=100), nullable=True),
    sa.Column('bill_postal_code', sa.String(length=30), nullable=True),
    sa.Column('bill_country', sa.String(length=100), nullable=True),
    sa.Column('bill_po_box', sa.String(length=30), nullable=True),
    sa.Column('ship_street', sa.String(length=250), nullable=True),
    sa.Column('ship_city', sa.String(length=100), nullable=True),
    sa.Column('ship_state', sa.String(length=100), nullable=True),
    sa.Column('ship_postal_code', sa.String(length=30), nullable=True),
    sa.Column('ship_country', sa.String(length=100), nullable=True),
    sa.Column('ship_po_box', sa.String(length=30), nullable=True),
    sa.Column('terms', sa.Text(), nullable=True),
    sa.Column('discount_percent', crm_store.models.base.Percent(precision=20, scale=3), nullable=True),
    sa.Column('discount_amount', crm_store.models.base.Money(precision=20, scale=4), nullable=True),
    sa.Column('shipping_amount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('adjustment', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('subtotal', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('overall_discount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('shipping_tax', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('pre_tax_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('tax_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('grand_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('taxes', sa.JSON(), nullable=False),
    sa.Column('shipping_taxes', sa.JSON(), nullable=False),
    sa.Column('account_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('contact_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('opportunity_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('currency_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('price_book_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('owner_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('deleted_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sales_orders_account_id_accounts')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_sales_orders_batch_id_batches')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_sales_orders_contact_id_contacts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_sales_orders_created_by_id_users')),
    sa.ForeignKeyConstraint(['currency_id'], ['currencies.id'], name=op.f('fk_sales_orders_currency_id_currencies')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_sales_orders_opportunity_id_opportunities')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_sales_orders_owner_id_users')),
    sa.ForeignKeyConstraint(['price_book_id'], ['price_books.id'], name=op.f('fk_sales_orders_price_book_id_price_books')),
    sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_sales_orders_quote_id_quotes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_orders')),
    sa.UniqueConstraint('sales_order_no', name=op.f('uq_sales_orders_sales_order_no'))
    )
    with op.batch_alter_table('sales_orders', schema=None) as batch_op:
        batch_op.create_index('ix_sales_orders_account_created', ['account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_orders_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_orders_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_orders_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_sales_orders_created', ['created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_orders_opportunity_id'), ['opportunity_id'], unique=False)
        batch_op.create_index('ix_sales_orders_owner_created', ['owner_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_orders_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sales_orders_quote_id'), ['quote_id'], unique=False)

    op.create_table('invoices',
    sa.Column('invoice_no', sa.String(length=20), nullable=False),
    sa.Column('sales_order_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('quote_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('invoice_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('purchase_order', sa.String(length=100), nullable=True),
    sa.Column('customer_no', sa.String(length=100), nullable=True),
    sa.Column('received', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('balance', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('stock_deducted', sa.Boolean(), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=100), nullable=False),
    sa.Column('conversion_rate', crm_store.models.base.Rate(precision=20, scale=8), server_default=sa.text('1'), nullable=False),
    sa.Column('tax_mode', sa.String(length=10), nullable=False),
    sa.Column('prices_include_tax', sa.Boolean(), nullable=False),
    sa.Column('bill_street', sa.String(length=250), nullable=True),
    sa.Column('bill_city', sa.String(length=100), nullable=True),
    sa.Column('bill_state', sa.String(length=100), nullable=True),
    sa.Column('bill_postal_code', sa.String(length=30), nullable=True),
    sa.Column('bill_country', sa.String(length=100), nullable=True),
    sa.Column('bill_po_box', sa.String(length=30), nullable=True),
    sa.Column('ship_street', sa.String(length=250), nullable=True),
    sa.Column('ship_city', sa.String(length=100), nullable=True),
    sa.Column('ship_state', sa.String(length=100), nullable=True),
    sa.Column('ship_postal_code', sa.String(length=30), nullable=True),
    sa.Column('ship_country', sa.String(length=100), nullable=True),
    sa.Column('ship_po_box', sa.String(length=30), nullable=True),
    sa.Column('terms', sa.Text(), nullable=True),
    sa.Column('discount_percent', crm_store.models.base.Percent(precision=20, scale=3), nullable=True),
    sa.Column('discount_amount', crm_store.models.base.Money(precision=20, scale=4), nullable=True),
    sa.Column('shipping_amount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('adjustment', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('subtotal', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('overall_discount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('shipping_tax', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('pre_tax_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('tax_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('grand_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('taxes', sa.JSON(), nullable=False),
    sa.Column('shipping_taxes', sa.JSON(), nullable=False),
    sa.Column('account_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('contact_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('opportunity_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('currency_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('price_book_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('owner_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('deleted_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.CheckConstraint('received >= 0', name=op.f('ck_invoices_received')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_invoices_account_id_accounts')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_invoices_batch_id_batches')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_invoices_contact_id_contacts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invoices_created_by_id_users')),
    sa.ForeignKeyConstraint(['currency_id'], ['currencies.id'], name=op.f('fk_invoices_currency_id_currencies')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_invoices_opportunity_id_opportunities')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_invoices_owner_id_users')),
    sa.ForeignKeyConstraint(['price_book_id'], ['price_books.id'], name=op.f('fk_invoices_price_book_id_price_books')),
    sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_invoices_quote_id_quotes')),
    sa.ForeignKeyConstraint(['sales_order_id'], ['sales_orders.id'], name=op.f('fk_invoices_sales_order_id_sales_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('invoice_no', name=op.f('uq_invoices_invoice_no'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_account_date', ['account_id', 'invoice_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_invoices_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_invoices_date', ['invoice_date', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_opportunity_id'), ['opportunity_id'], unique=False)
        batch_op.create_index('ix_invoices_owner_created', ['owner_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_quote_id'), ['quote_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_sales_order_id'), ['sales_order_id'], unique=False)

    op.create_table('line_items',
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('quote_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('sales_order_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('invoice_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('quantity', crm_store.models.base.Quantity(precision=20, scale=3), nullable=False),
    sa.Column('list_price', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('discount_kind', sa.String(length=10), nullable=True),
    sa.Column('discount_value', crm_store.models.base.Money(precision=20, scale=4), nullable=True),
    sa.Column('line_total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('discount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('net', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('tax', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('total', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('taxes', sa.JSON(), nullable=False),
    sa.CheckConstraint("discount_kind is null or discount_kind in ('percent','amount')", name=op.f('ck_line_items_discount_kind')),
    sa.CheckConstraint('(case when quote_id is null then 0 else 1 end) + (case when sales_order_id is null then 0 else 1 end) + (case when invoice_id is null then 0 else 1 end) = 1', name=op.f('ck_line_items_one_document')),
    sa.CheckConstraint('list_price >= 0', name=op.f('ck_line_items_list_price')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_line_items_quantity')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_line_items_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_line_items_product_id_products')),
    sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_line_items_quote_id_quotes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sales_order_id'], ['sales_orders.id'], name=op.f('fk_line_items_sales_order_id_sales_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_items'))
    )
    with op.batch_alter_table('line_items', schema=None) as batch_op:
        batch_op.create_index('ix_line_items_invoice', ['invoice_id', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_line_items_product_id'), ['product_id'], unique=False)
        batch_op.create_index('ix_line_items_quote', ['quote_id', 'position'], unique=False)
        batch_op.create_index('ix_line_items_sales_order', ['sales_order_id', 'position'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('invoice_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount', crm_store.models.base.Money(precision=20, scale=4), nullable=False),
    sa.Column('method', sa.String(length=100), nullable=True),
    sa.Column('reference', sa.String(length=255), nullable=True),
    sa.Column('created_at', crm_store.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer().with_variant(sa.BigInteger(), 'postgresql'), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_payments_created_by_id_users')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_invoice', ['invoice_id', 'paid_on'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_id', sa.String(length=30), nullable=True))

    _link_columns('activities')
    _link_columns('document_links')
    _link_columns('notes')
    _search_owner_triggers()


def downgrade() -> None:
    for table in SEARCHED:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_search_owner" +
                   (f" ON {table}" if op.get_context().dialect.name == 'postgresql' else ""))
    for table in ('notes', 'document_links', 'activities'):
        _drop_link_columns(table)

    op.drop_column('accounts', 'tax_id')  # not a batch "recreate": accounts keep their search-owner trigger

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_invoice')

    op.drop_table('payments')
    with op.batch_alter_table('line_items', schema=None) as batch_op:
        batch_op.drop_index('ix_line_items_sales_order')
        batch_op.drop_index('ix_line_items_quote')
        batch_op.drop_index(batch_op.f('ix_line_items_product_id'))
        batch_op.drop_index('ix_line_items_invoice')

    op.drop_table('line_items')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_sales_order_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_quote_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_owner_id'))
        batch_op.drop_index('ix_invoices_owner_created')
        batch_op.drop_index(batch_op.f('ix_invoices_opportunity_id'))
        batch_op.drop_index('ix_invoices_date')
        batch_op.drop_index('ix_invoices_created')
        batch_op.drop_index(batch_op.f('ix_invoices_contact_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_batch_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_account_id'))
        batch_op.drop_index('ix_invoices_account_date')

    op.drop_table('invoices')
    with op.batch_alter_table('sales_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_orders_quote_id'))
        batch_op.drop_index(batch_op.f('ix_sales_orders_owner_id'))
        batch_op.drop_index('ix_sales_orders_owner_created')
        batch_op.drop_index(batch_op.f('ix_sales_orders_opportunity_id'))
        batch_op.drop_index('ix_sales_orders_created')
        batch_op.drop_index(batch_op.f('ix_sales_orders_contact_id'))
        batch_op.drop_index(batch_op.f('ix_sales_orders_batch_id'))
        batch_op.drop_index(batch_op.f('ix_sales_orders_account_id'))
        batch_op.drop_index('ix_sales_orders_account_created')

    op.drop_table('sales_orders')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quotes_owner_id'))
        batch_op.drop_index('ix_quotes_owner_created')
        batch_op.drop_index(batch_op.f('ix_quotes_opportunity_id'))
        batch_op.drop_index('ix_quotes_created')
        batch_op.drop_index(batch_op.f('ix_quotes_contact_id'))
        batch_op.drop_index(batch_op.f('ix_quotes_batch_id'))
        batch_op.drop_index(batch_op.f('ix_quotes_account_id'))
        batch_op.drop_index('ix_quotes_account_created')

    op.drop_table('quotes')
    with op.batch_alter_table('product_taxes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_taxes_tax_id'))

    op.drop_table('product_taxes')
    with op.batch_alter_table('price_book_prices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_book_prices_product_id'))

    op.drop_table('price_book_prices')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_owner_id'))
        batch_op.drop_index('ix_products_owner_created')
        batch_op.drop_index('ix_products_name')
        batch_op.drop_index('ix_products_created')
        batch_op.drop_index(batch_op.f('ix_products_batch_id'))

    op.drop_table('products')
    with op.batch_alter_table('price_books', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_books_owner_id'))
        batch_op.drop_index(batch_op.f('ix_price_books_batch_id'))

    op.drop_table('price_books')
    op.drop_table('taxes')
