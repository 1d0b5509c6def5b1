"""The demo shop: a deterministic SQLite database the product builds and registers as connection `demo`."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

from nl2sql.catalog.dto import Connection, SyncState
from nl2sql.catalog.service import CatalogService
from nl2sql.errors import AppError, ConflictError

log = logging.getLogger("nl2sql.catalog")

DEMO_NAME = "demo"
SEED = 20230101
START, END = date(2023, 1, 1), date(2025, 12, 31)

FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Elijah Sophia James Isabella William Mia Benjamin Charlotte Lucas Amelia Henry Harper "
    "Alexander Evelyn Mason Abigail Michael Emily Ethan Elizabeth Daniel Sofia Jacob Avery Logan Ella Jackson Madison "
    "Sebastian Scarlett Jack Victoria Aiden Aria Owen Grace Samuel Chloe Matthew Camila Joseph Penelope Levi Riley Mateo"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson "
    "Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker "
    "Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell"
).split()
CITIES = (
    ("New York", "NY"), ("Buffalo", "NY"), ("Los Angeles", "CA"), ("San Francisco", "CA"), ("San Diego", "CA"),
    ("Sacramento", "CA"), ("Chicago", "IL"), ("Springfield", "IL"), ("Houston", "TX"), ("Austin", "TX"),
    ("Dallas", "TX"), ("San Antonio", "TX"), ("Phoenix", "AZ"), ("Tucson", "AZ"), ("Philadelphia", "PA"),
    ("Pittsburgh", "PA"), ("Seattle", "WA"), ("Spokane", "WA"), ("Denver", "CO"), ("Boston", "MA"),
    ("Miami", "FL"), ("Orlando", "FL"), ("Tampa", "FL"), ("Atlanta", "GA"), ("Portland", "OR"), ("Nashville", "TN"),
)
CATALOG = {
    "Electronics": ("Devices and accessories", [
        ("Wireless Earbuds", 59.0), ("Bluetooth Speaker", 45.0), ("USB-C Charger", 19.0), ("Smart Watch", 199.0),
        ("Noise-Cancelling Headphones", 249.0), ("Portable SSD 1TB", 99.0), ("Webcam HD", 69.0), ("E-Reader", 129.0)]),
    "Home & Kitchen": ("Cookware, appliances and decor", [
        ("Chef's Knife", 79.0), ("Cast Iron Skillet", 39.0), ("French Press", 29.0), ("Blender", 89.0),
        ("Bath Towel Set", 35.0), ("Table Lamp", 49.0), ("Air Fryer", 119.0), ("Ceramic Mug Set", 24.0)]),
    "Books": ("Printed books", [
        ("Mystery Novel", 14.0), ("Cookbook", 28.0), ("Science Fiction Classic", 12.0), ("Travel Guide", 22.0),
        ("Children's Picture Book", 11.0), ("History of Rome", 31.0), ("Poetry Anthology", 17.0)]),
    "Sports & Outdoors": ("Gear for sport and the outdoors", [
        ("Yoga Mat", 25.0), ("Running Shoes", 110.0), ("Camping Tent", 179.0), ("Water Bottle", 18.0),
        ("Hiking Backpack", 89.0), ("Dumbbell Pair", 55.0), ("Bike Helmet", 49.0)]),
    "Toys & Games": ("Toys, puzzles and board games", [
        ("Building Blocks Set", 45.0), ("Jigsaw Puzzle 1000", 19.0), ("Board Game Classic", 34.0), ("Plush Bear", 16.0),
        ("Remote Control Car", 59.0), ("Card Game", 12.0)]),
    "Beauty": ("Skin care and cosmetics", [
        ("Moisturizer", 24.0), ("Sunscreen SPF 50", 15.0), ("Shampoo", 11.0), ("Perfume", 78.0), ("Lip Balm Set", 9.0)]),
    "Grocery": ("Pantry food and drinks", [
        ("Ground Coffee 1kg", 21.0), ("Green Tea 100 bags", 9.0), ("Olive Oil 1L", 16.0), ("Dark Chocolate Box", 13.0),
        ("Granola", 7.0), ("Maple Syrup", 12.0)]),
    "Office": ("Office supplies and furniture", [
        ("Notebook Pack", 10.0), ("Gel Pens 12", 8.0), ("Desk Organizer", 23.0), ("Ergonomic Chair", 289.0),
        ("Monitor Stand", 39.0), ("Stapler", 12.0)]),
}
ORDER_STATUSES = (("delivered", 70), ("shipped", 10), ("processing", 6), ("cancelled", 8), ("returned", 6))
PAYMENT_METHODS = (("card", 68), ("paypal", 20), ("gift_card", 5), ("bank_transfer", 7))

SCHEMA = """
CREATE TABLE categories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL
);
CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  sku TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  category_id INTEGER NOT NULL REFERENCES categories(id),
  price NUMERIC(10,2) NOT NULL,
  cost NUMERIC(10,2) NOT NULL,
  is_active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  city TEXT NOT NULL,
  state TEXT NOT NULL,
  signup_date DATE NOT NULL
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  order_date DATE NOT NULL,
  status TEXT NOT NULL,
  shipping_cost NUMERIC(10,2) NOT NULL DEFAULT 0
);
CREATE TABLE order_items (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL,
  unit_price NUMERIC(10,2) NOT NULL
);
CREATE TABLE payments (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(id),
  paid_at TIMESTAMP NOT NULL,
  amount NUMERIC(10,2) NOT NULL,
  method TEXT NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX orders_date ON orders(order_date);
CREATE INDEX items_order ON order_items(order_id);
CREATE INDEX payments_order ON payments(order_id);
"""

DESCRIPTIONS = {
    "categories": ("Product categories of the shop.", {"name": "Category name", "description": "What the category holds"}),
    "products": ("Products for sale; one row per SKU.", {
        "sku": "Stock keeping unit, unique product code", "category_id": "The product's category",
        "price": "Current list price in USD", "cost": "What the shop pays the supplier per unit, in USD",
        "is_active": "1 while the product is sold, 0 when discontinued"}),
    "customers": ("People who signed up; one row per customer.", {
        "email": "Contact e-mail address", "city": "City of the shipping address",
        "state": "US state of the shipping address (two-letter code)", "signup_date": "Day the customer signed up"}),
    "orders": ("Orders placed by customers.", {
        "customer_id": "Who placed the order", "order_date": "Day the order was placed",
        "status": "processing, shipped, delivered, cancelled or returned",
        "shipping_cost": "Shipping charged on the order in USD"}),
    "order_items": ("Lines of an order: a product, a quantity and the price paid per unit.", {
        "quantity": "Units ordered", "unit_price": "Price per unit at the time of the order, in USD"}),
    "payments": ("Payments received for orders; cancelled orders have none.", {
        "paid_at": "When the payment was received", "amount": "Amount paid in USD",
        "method": "card, paypal, gift_card or bank_transfer"}),
}
INSTRUCTIONS = (
    ("always", "All money amounts are in US dollars."),
    ("always", "Revenue means the sum of order_items.quantity * order_items.unit_price over orders whose status is not "
               "'cancelled' or 'returned'."),
    ("topical", "A customer is active in a period when they placed at least one order in it."),
    ("topical", "Margin of a product is price minus cost; margin percentage is (price - cost) / price * 100."),
)
# the demo's semantic layer: what a good one looks like on the semantics page, and what its revenue questions use
_SOLD = "orders.status NOT IN ('cancelled', 'returned')"
LAYER = (
    {"kind": "metric", "name": "revenue", "expression": "sum(order_items.quantity * order_items.unit_price)",
     "filters": [_SOLD], "time_column": "orders.order_date", "synonyms": ["sales", "turnover", "income"],
     "description": "What customers paid for the products of orders that were not cancelled or returned, in USD.",
     "format": "currency"},
    {"kind": "metric", "name": "average order value",
     "expression": "sum(order_items.quantity * order_items.unit_price) / count(distinct orders.id)",
     "filters": [_SOLD], "time_column": "orders.order_date", "synonyms": ["AOV", "average order size"],
     "description": "Revenue per order, over orders that were not cancelled or returned.", "format": "currency"},
    {"kind": "metric", "name": "margin",
     "expression": "sum(order_items.quantity * (order_items.unit_price - products.cost))",
     "filters": [_SOLD], "time_column": "orders.order_date", "synonyms": ["gross margin", "profit", "gross profit"],
     "description": "Revenue less what the products sold cost the shop, in USD.", "format": "currency"},
    {"kind": "segment", "name": "active products", "expression": "products.is_active = 1",
     "synonyms": ["products still sold", "products for sale", "products on sale"],
     "description": "Products the shop still sells."},
    {"kind": "segment", "name": "discontinued products", "expression": "products.is_active = 0",
     "synonyms": ["products no longer sold", "inactive products", "products not sold anymore"],
     "description": "Products the shop no longer sells."},
)
# the words people use for the order statuses (the state codes need none: US states are general knowledge)
VALUE_SYNONYMS = {("orders", "status"): {"cancelled": ["canceled"], "delivered": ["completed", "fulfilled"],
                                         "processing": ["pending", "open"], "shipped": ["dispatched", "in transit"],
                                         "returned": ["refunded"]}}
GOLDEN_QUERIES = (
    ("How many customers are there?", "SELECT COUNT(*) AS customers FROM customers"),
    ("How many orders were placed in 2024?",
     "SELECT COUNT(*) AS orders FROM orders WHERE order_date >= '2024-01-01' AND order_date < '2025-01-01'"),
    ("What was the revenue per year?",
     "SELECT strftime('%Y', o.order_date) AS year, ROUND(SUM(i.quantity * i.unit_price), 2) AS revenue "
     "FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.status NOT IN ('cancelled', 'returned') "
     "GROUP BY year ORDER BY year"),
    ("Which 5 products sold the most units?",
     "SELECT p.name, SUM(i.quantity) AS units FROM order_items i JOIN products p ON p.id = i.product_id "
     "GROUP BY p.name ORDER BY units DESC LIMIT 5"),
    ("How many customers live in each state?",
     "SELECT state, COUNT(*) AS customers FROM customers GROUP BY state ORDER BY customers DESC"),
    ("What percentage of payments was made by each method?",
     "SELECT method, ROUND(100.0 * COUNT(*) / (SELECT COUNT(*) FROM payments), 1) AS percent FROM payments "
     "GROUP BY method ORDER BY percent DESC"),
    ("What is the revenue per category?",
     "SELECT c.name AS category, ROUND(SUM(i.quantity * i.unit_price), 2) AS revenue FROM order_items i "
     "JOIN products p ON p.id = i.product_id JOIN categories c ON c.id = p.category_id "
     "JOIN orders o ON o.id = i.order_id WHERE o.status NOT IN ('cancelled', 'returned') "
     "GROUP BY c.name ORDER BY revenue DESC"),
)


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def build_demo_database(path: Path, *, customers: int = 600, orders: int = 2400) -> Path:
    """Write the demo shop to `path` (replacing it); the same seed gives the same rows every time."""
    rng = random.Random(SEED)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    days = (END - START).days
    with sqlite3.connect(partial) as conn:
        conn.executescript(SCHEMA)
        products: list[tuple[int, float]] = []
        for category_id, (category, (description, items)) in enumerate(CATALOG.items(), 1):
            conn.execute("INSERT INTO categories VALUES (?, ?, ?)", (category_id, category, description))
            for name, price in items:
                product_id = len(products) + 1
                cost = round(price * rng.uniform(0.45, 0.7), 2)
                conn.execute(
                    "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (product_id, f"SKU-{category_id:02d}{product_id:04d}", name, category_id, price, cost,
                     0 if rng.random() < 0.06 else 1),
                )
                products.append((product_id, price))
        signups = []
        for customer_id in range(1, customers + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, state = rng.choice(CITIES)
            signup = START + timedelta(days=int(rng.triangular(0, days, 0)))
            signups.append(signup)
            conn.execute(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (customer_id, first, last, f"{first}.{last}{customer_id}@example.com".lower(), city, state,
                 signup.isoformat()),
            )
        item_id = payment_id = 0
        for order_id in range(1, orders + 1):
            customer_id = rng.randint(1, customers)
            first_day = signups[customer_id - 1]
            order_day = first_day + timedelta(days=rng.randint(0, max(0, (END - first_day).days)))
            status = _weighted(rng, ORDER_STATUSES)
            if order_day > END - timedelta(days=10) and status == "delivered":
                status = "processing"
            shipping = 0.0 if rng.random() < 0.4 else rng.choice((4.99, 7.99, 12.5))
            conn.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                         (order_id, customer_id, order_day.isoformat(), status, shipping))
            total = shipping
            for product_id, price in rng.sample(products, rng.choice((1, 1, 1, 2, 2, 3, 4))):
                item_id += 1
                quantity = rng.choice((1, 1, 1, 2, 2, 3, 5))
                unit_price = round(price * (0.9 if rng.random() < 0.15 else 1.0), 2)
                conn.execute("INSERT INTO order_items VALUES (?, ?, ?, ?, ?)",
                             (item_id, order_id, product_id, quantity, unit_price))
                total += quantity * unit_price
            if status != "cancelled":
                payment_id += 1
                paid = datetime.combine(order_day, datetime.min.time()) + timedelta(minutes=rng.randint(1, 60 * 36))
                conn.execute("INSERT INTO payments VALUES (?, ?, ?, ?, ?)",
                             (payment_id, order_id, paid.isoformat(sep=" "), round(total, 2),
                              _weighted(rng, PAYMENT_METHODS)))
    os.replace(partial, path)
    return path


def demo_metadata() -> dict:
    """The demo's descriptions in the catalog's own import format."""
    return {
        "tables": [
            {"name": table, "description": text, "columns": [{"name": c, "description": d} for c, d in columns.items()]}
            for table, (text, columns) in DESCRIPTIONS.items()
        ]
    }


async def install_demo(catalog: CatalogService, data_dir: Path) -> Connection | None:
    """On first start: build the shop, register it as `demo`, sync, describe it, add instructions and golden queries.

    Later starts do nothing (a marker file remembers it), so an admin who deletes the demo keeps it deleted.
    """
    marker = data_dir / "demo" / "installed"
    if marker.exists():
        return None
    path = build_demo_database(data_dir / "demo" / "shop.db")
    try:
        connection = await catalog.create_connection(
            None, DEMO_NAME, f"sqlite:///{path}", description="Demo shop (SQLite): customers, products, orders, payments."
        )
    except ConflictError:
        marker.touch()
        return None
    status = await catalog.sync_now(None, DEMO_NAME)
    if status.status != SyncState.SUCCEEDED:
        log.warning("demo sync failed: %s", status.error)
        return connection
    await catalog.import_metadata(None, connection.id, demo_metadata())
    for kind, text in INSTRUCTIONS:
        await catalog.add_instruction(None, connection.id, text, kind)
    for spec in LAYER:
        try:
            await catalog.add_metric(None, connection.id, spec)
        except AppError as exc:
            log.warning("demo %s %r refused: %s", spec["kind"], spec["name"], exc.detail)
    for (table, column), words in VALUE_SYNONYMS.items():
        await catalog.set_value_synonyms(None, connection.id, table, column, words)
    for question, sql in GOLDEN_QUERIES:
        try:
            await catalog.add_golden_query(None, connection.id, question, sql)
        except AppError as exc:  # a check stricter than the demo expects must not stop the start
            log.warning("demo golden query %r refused: %s", question, exc.detail)
    marker.touch()
    log.info("installed the demo connection from %s", path)
    return connection
