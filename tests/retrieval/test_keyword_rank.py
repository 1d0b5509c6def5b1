"""The in-memory keyword index ranks exactly as PostgreSQL's ts_rank(tsv, query, 1) does."""

import sqlalchemy as sa

from nl2sql.retrieval.keywords import KeywordIndex, keyword_terms

ITEMS = [
    ("table", "orders", "orders: one row per purchase; order date, status, channel, shipping state"),
    ("table", "order_items", "order_items: the products of an order with quantity, unit price and discount"),
    ("table", "customers", "customers: people and businesses who buy; first name, last name, city, state"),
    ("column", "customers.state", "customers.state: US state code of the customer's address"),
    ("column", "orders.status", "orders.status: pending, shipped, delivered, cancelled or returned orders"),
    ("column", "payments.amount", "payments.amount: amount paid, in dollars"),
    ("column", "products.price", "products.price: list price in dollars of the product; price paid may differ"),
]
QUESTIONS = [
    "how many orders were shipped per state",
    "total price of products",
    "which customers paid the largest amount in dollars",
    "order items with a discount",
    "nothing matches zebra",
]


def test_keyword_rank_matches_postgres_ts_rank(app_db_url):
    index = KeywordIndex((kind, key, keyword_terms(text)) for kind, key, text in ITEMS)
    engine = sa.create_engine(app_db_url)
    try:
        with engine.connect() as conn:
            for question in QUESTIONS:
                terms = keyword_terms(question).split()
                ours = index.match(terms, {"table": 10, "column": 10})
                if not terms:
                    continue
                query = " | ".join(dict.fromkeys(terms))
                theirs = {}
                for kind, key, text in ITEMS:
                    rank = conn.scalar(
                        sa.text(
                            "SELECT CASE WHEN to_tsvector('simple', :t) @@ to_tsquery('simple', :q) "
                            "THEN ts_rank(to_tsvector('simple', :t), to_tsquery('simple', :q), 1) END"
                        ),
                        {"t": keyword_terms(text), "q": query},
                    )
                    if rank is not None:
                        theirs[(kind, key)] = rank
                assert set(ours) == set(theirs), question
                for item, rank in theirs.items():
                    assert abs(ours[item] - rank) < 1e-6, (question, item, ours[item], rank)
    finally:
        engine.dispose()
