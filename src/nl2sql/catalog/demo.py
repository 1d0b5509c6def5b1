"""The demo shop the product ships: a deterministic SQLite database and its curated knowledge."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import os
import pathlib
import random
import sqlite3
import tempfile
from dataclasses import dataclass

__all__ = [
    "DEMO_CONNECTION_DESCRIPTION",
    "DEMO_DESCRIPTIONS",
    "DEMO_GOLDEN_QUERIES",
    "DEMO_INSTRUCTIONS",
    "DemoColumn",
    "DemoGoldenQuery",
    "DemoInstruction",
    "DemoTable",
    "build_demo_database",
]


@dataclass(frozen=True)
class DemoColumn:
    """A curated column description with business names a person might use for it."""

    name: str
    description: str
    synonyms: tuple[str, ...] = ()
    sensitive: bool = False


@dataclass(frozen=True)
class DemoTable:
    """A curated table description with its columns."""

    name: str
    description: str
    columns: tuple[DemoColumn, ...]
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoInstruction:
    """A rule for writing SQL on the demo database; `always` ones go into every prompt."""

    text: str
    always: bool


@dataclass(frozen=True)
class DemoGoldenQuery:
    """A question with SQL verified on the demo database."""

    question: str
    sql: str


DEMO_CONNECTION_DESCRIPTION = (
    "Demo online shop (SQLite, made by the product): customers, products in categories, orders with their "
    "items and payments, 2023-2025."
)

# A fixed seed and a private Random: every build gives the same rows, whatever else uses `random`.
_SEED = 20240601
_FIRST_DAY = dt.date(2023, 1, 1)
_LAST_DAY = dt.date(2025, 12, 31)

_SCHEMA = """
CREATE TABLE categories (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category_id INTEGER NOT NULL REFERENCES categories (id),
    sku TEXT NOT NULL UNIQUE,
    price REAL NOT NULL CHECK (price > 0),
    cost REAL NOT NULL CHECK (cost > 0),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    country TEXT NOT NULL DEFAULT 'US',
    segment TEXT NOT NULL CHECK (segment IN ('consumer', 'business', 'education')),
    signup_date DATE NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    order_date DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'shipped', 'delivered', 'cancelled', 'returned')),
    channel TEXT NOT NULL CHECK (channel IN ('web', 'mobile', 'store')),
    shipping_state TEXT NOT NULL
);
CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL NOT NULL CHECK (unit_price >= 0),
    discount REAL NOT NULL DEFAULT 0 CHECK (discount >= 0 AND discount < 1)
);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    paid_at DATETIME NOT NULL,
    amount REAL NOT NULL CHECK (amount > 0),
    method TEXT NOT NULL CHECK (method IN ('card', 'paypal', 'bank_transfer', 'gift_card')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'refunded'))
);
CREATE INDEX ix_products_category_id ON products (category_id);
CREATE INDEX ix_orders_customer_id ON orders (customer_id);
CREATE INDEX ix_orders_order_date ON orders (order_date);
CREATE INDEX ix_order_items_order_id ON order_items (order_id);
CREATE INDEX ix_order_items_product_id ON order_items (product_id);
CREATE INDEX ix_payments_order_id ON payments (order_id);
"""

# (name, description, SKU prefix, price range, product name parts)
_CATALOGUE: tuple[tuple[str, str, str, tuple[float, float], tuple[str, ...], tuple[str, ...]], ...] = (
    ("Electronics", "Headphones, speakers, chargers and gadgets", "ELE", (19, 399),
     ("Wireless", "Compact", "Pro", "Smart", "Portable"),
     ("Earbuds", "Speaker", "Charger", "Power Bank", "Webcam")),
    ("Computers", "Laptops, monitors and accessories", "CMP", (25, 1499),
     ("Ultra", "Slim", "Gaming", "Office", "Ergo"),
     ("Laptop", "Monitor", "Keyboard", "Mouse", "Docking Station")),
    ("Home & Kitchen", "Cookware, small appliances and tableware", "HOM", (9, 249),
     ("Classic", "Nonstick", "Steel", "Family", "Chef's"),
     ("Skillet", "Blender", "Kettle", "Knife Set", "Toaster")),
    ("Furniture", "Desks, chairs and storage", "FUR", (49, 899),
     ("Oak", "Modern", "Standing", "Folding", "Walnut"),
     ("Desk", "Chair", "Bookshelf", "Side Table", "Cabinet")),
    ("Office Supplies", "Paper, pens and desk organisers", "OFF", (2, 59),
     ("Premium", "Recycled", "Everyday", "Bulk", "Color"),
     ("Notebook", "Pen Pack", "Sticky Notes", "Binder", "Planner")),
    ("Books", "Printed books across genres", "BOK", (8, 45),
     ("Illustrated", "Hardcover", "Paperback", "Collector's", "Pocket"),
     ("Cookbook", "Atlas", "Novel", "Guide", "Biography")),
    ("Toys & Games", "Board games, puzzles and building sets", "TOY", (9, 129),
     ("Deluxe", "Junior", "Family", "Travel", "Mega"),
     ("Puzzle", "Board Game", "Building Set", "Card Game", "Robot Kit")),
    ("Sports & Outdoors", "Fitness gear and camping equipment", "SPO", (12, 349),
     ("Trail", "Pro", "Lightweight", "All-Weather", "Club"),
     ("Backpack", "Tent", "Yoga Mat", "Dumbbell Set", "Water Bottle")),
    ("Clothing", "Apparel for adults and children", "CLO", (12, 149),
     ("Organic", "Classic", "Fleece", "Rain", "Merino"),
     ("T-Shirt", "Hoodie", "Jacket", "Socks", "Beanie")),
    ("Beauty & Health", "Personal care and wellness", "BEA", (5, 89),
     ("Gentle", "Daily", "Travel", "Herbal", "Sensitive"),
     ("Face Cream", "Shampoo", "Toothbrush", "Sunscreen", "Vitamins")),
    ("Grocery", "Coffee, tea and pantry staples", "GRO", (3, 39),
     ("Organic", "Single-Origin", "Family", "Gourmet", "Fair-Trade"),
     ("Coffee Beans", "Green Tea", "Olive Oil", "Honey", "Granola")),
    ("Pet Supplies", "Food, toys and beds for pets", "PET", (4, 129),
     ("Cozy", "Durable", "Grain-Free", "Chew-Proof", "Orthopedic"),
     ("Dog Bed", "Cat Tree", "Leash", "Pet Food", "Chew Toy")),
)

# Weights follow US population roughly, so "which states have the most customers" has a clear answer.
_STATES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("CA", 140, ("Los Angeles", "San Francisco", "San Diego", "San Jose", "Sacramento", "Oakland")),
    ("TX", 100, ("Houston", "Austin", "Dallas", "San Antonio", "Fort Worth")),
    ("NY", 80, ("New York", "Brooklyn", "Buffalo", "Rochester", "Albany")),
    ("FL", 75, ("Miami", "Orlando", "Tampa", "Jacksonville")),
    ("WA", 50, ("Seattle", "Spokane", "Tacoma", "Bellevue")),
    ("IL", 50, ("Chicago", "Naperville", "Springfield")),
    ("PA", 45, ("Philadelphia", "Pittsburgh", "Allentown")),
    ("OH", 40, ("Columbus", "Cleveland", "Cincinnati")),
    ("GA", 38, ("Atlanta", "Savannah", "Athens")),
    ("NC", 35, ("Charlotte", "Raleigh", "Durham")),
    ("MI", 32, ("Detroit", "Grand Rapids", "Ann Arbor")),
    ("NJ", 30, ("Newark", "Jersey City", "Princeton")),
    ("VA", 28, ("Richmond", "Arlington", "Virginia Beach")),
    ("MA", 28, ("Boston", "Cambridge", "Worcester")),
    ("AZ", 25, ("Phoenix", "Tucson", "Scottsdale")),
    ("CO", 22, ("Denver", "Boulder", "Colorado Springs")),
    ("OR", 18, ("Portland", "Eugene", "Salem")),
    ("MN", 18, ("Minneapolis", "Saint Paul", "Duluth")),
    ("TN", 18, ("Nashville", "Memphis", "Knoxville")),
    ("MD", 15, ("Baltimore", "Annapolis")),
    ("WI", 14, ("Milwaukee", "Madison")),
    ("UT", 12, ("Salt Lake City", "Provo")),
    ("NV", 10, ("Las Vegas", "Reno")),
    ("DC", 6, ("Washington",)),
)

_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sofia", "Mark", "Emily", "Wei", "Priya", "Steven",
    "Michelle", "Andrew", "Laura", "Joshua", "Maria", "Kevin", "Aisha", "Brian", "Olivia", "Hiroshi",
    "Emma", "Luis", "Chloe", "Omar", "Grace", "Ethan", "Mia", "Noah", "Ava",
)
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Chen", "Patel",
)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

_PRODUCTS_PER_CATEGORY = 13
_CUSTOMER_COUNT = 800
_ORDER_COUNT = 3000
# Holiday peak, summer lull: monthly weights make "orders per month" charts worth drawing.
_MONTH_WEIGHT = (0.85, 0.75, 0.9, 0.95, 1.0, 0.9, 0.85, 0.95, 1.0, 1.05, 1.45, 1.7)
# About 30 % more business each year.
_YEARLY_GROWTH = 1.3


def build_demo_database(path: pathlib.Path) -> None:
    """Create the demo shop database at `path`, replacing any file there only once it is complete."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as the target, so the rename is atomic and readers never see a half-built file.
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = pathlib.Path(temp_name)
    try:
        _load(temp)
        with temp.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _load(path: pathlib.Path) -> None:
    rows = _generate(random.Random(_SEED))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        # A half-written temp file is thrown away, so there is nothing for a journal to protect.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        # executescript() would commit first, so the schema goes statement by statement into the one transaction.
        for statement in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(statement)
        for table, table_rows in rows.items():
            width = len(table_rows[0])
            conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", table_rows)
        conn.execute("COMMIT")
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"demo database has dangling foreign keys: {problems[:5]}")
        (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
        if integrity != "ok":
            raise RuntimeError(f"demo database failed its integrity check: {integrity}")
    finally:
        conn.close()


def _generate(rng: random.Random) -> dict[str, list[tuple]]:
    categories, products = _products(rng)
    customers = _customers(rng)
    orders, items, payments = _orders(rng, customers, products)
    return {
        "categories": categories,
        "products": products,
        "customers": customers,
        "orders": orders,
        "order_items": items,
        "payments": payments,
    }


def _products(rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    categories: list[tuple] = []
    products: list[tuple] = []
    for category_id, (name, description, prefix, (low, high), adjectives, nouns) in enumerate(_CATALOGUE, start=1):
        categories.append((category_id, name, description))
        combinations = [f"{adjective} {noun}" for adjective, noun in itertools.product(adjectives, nouns)]
        for number, product_name in enumerate(rng.sample(combinations, _PRODUCTS_PER_CATEGORY), start=1):
            # Log-uniform prices: many cheap items, a few expensive ones, as in a real catalogue.
            price = round(max(round(low * (high / low) ** rng.random()), low) - 0.01, 2)
            cost = round(price * rng.uniform(0.45, 0.7), 2)
            active = 0 if rng.random() < 0.08 else 1
            sku = f"{prefix}-{number:04d}"
            products.append((len(products) + 1, product_name, category_id, sku, price, cost, active))
    return categories, products


def _customers(rng: random.Random) -> list[tuple]:
    state_weights = [weight for _, weight, _ in _STATES]
    span = (_LAST_DAY - _FIRST_DAY).days
    signups = []
    for _ in range(_CUSTOMER_COUNT):
        # A launch cohort, then sign-ups that pick up as the shop grows (a power below 1 leans later).
        offset = rng.randint(0, 45) if rng.random() < 0.12 else int(span * rng.random() ** 0.8)
        signups.append(_FIRST_DAY + dt.timedelta(days=offset))
    # Customer 1 signs up on day one so the first orders have someone to belong to; ids follow sign-up order.
    signups[0] = _FIRST_DAY
    signups.sort()
    customers: list[tuple] = []
    seen_emails: set[str] = set()
    for customer_id, signup in enumerate(signups, start=1):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        state, _, cities = rng.choices(_STATES, weights=state_weights)[0]
        segment = rng.choices(("consumer", "business", "education"), weights=(74, 19, 7))[0]
        local = f"{first}.{last}".lower()
        email = f"{local}@{rng.choice(_EMAIL_DOMAINS)}"
        suffix = 2
        while email in seen_emails:
            email = f"{local}{suffix}@{email.split('@')[1]}"
            suffix += 1
        seen_emails.add(email)
        customers.append(
            (customer_id, first, last, email, rng.choice(cities), state, "US", segment, signup.isoformat())
        )
    return customers


def _order_days(rng: random.Random) -> list[dt.date]:
    days = [_FIRST_DAY + dt.timedelta(days=n) for n in range((_LAST_DAY - _FIRST_DAY).days + 1)]
    weights = [
        _MONTH_WEIGHT[day.month - 1]
        * _YEARLY_GROWTH ** ((day - _FIRST_DAY).days / 365)
        * (1.15 if day.weekday() >= 5 else 1.0)
        for day in days
    ]
    return sorted(rng.choices(days, weights=weights, k=_ORDER_COUNT))


def _status(rng: random.Random, day: dt.date) -> str:
    age = (_LAST_DAY - day).days
    # Recent orders are still on their way; old ones have settled.
    if age < 4:
        return rng.choices(("pending", "shipped", "cancelled"), weights=(60, 35, 5))[0]
    if age < 12:
        return rng.choices(("pending", "shipped", "delivered", "cancelled"), weights=(10, 45, 40, 5))[0]
    return rng.choices(("delivered", "cancelled", "returned"), weights=(89, 6, 5))[0]


def _orders(
    rng: random.Random, customers: list[tuple], products: list[tuple]
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    signup_days = [dt.date.fromisoformat(customer[8]) for customer in customers]
    states = [state for state, _, _ in _STATES]
    # Popular products sell more: a few best-sellers make "top products" meaningful.
    popularity = [rng.paretovariate(1.6) for _ in products]
    orders: list[tuple] = []
    items: list[tuple] = []
    payments: list[tuple] = []
    for order_id, day in enumerate(_order_days(rng), start=1):
        # Only customers who had signed up by then can order; customers are sorted by sign-up date.
        eligible = bisect.bisect_right(signup_days, day)
        customer = customers[rng.randrange(eligible)]
        segment = customer[7]
        years_in = (day - _FIRST_DAY).days / 365
        channel = rng.choices(("web", "mobile", "store"), weights=(55 - 5 * years_in, 25 + 7 * years_in, 15))[0]
        shipping_state = customer[5] if rng.random() < 0.92 else rng.choice(states)
        status = _status(rng, day)
        orders.append((order_id, customer[0], day.isoformat(), status, channel, shipping_state))

        line_count = rng.choices((1, 2, 3, 4, 5, 6), weights=(22, 28, 22, 14, 9, 5))[0]
        total = 0.0
        for product in _distinct_choices(rng, products, popularity, line_count):
            quantity = rng.choices((1, 2, 3, 5, 10), weights=(70, 18, 7, 3, 2))[0]
            if segment != "consumer":
                quantity = quantity * rng.choice((1, 2, 4))
            unit_price = product[4]
            # A 2024 price rise of 5 % on everything, so unit_price differs from today's list price.
            if day.year < 2024:
                unit_price = round(unit_price / 1.05, 2)
            discount = rng.choices((0.0, 0.05, 0.1, 0.15, 0.2), weights=(70, 10, 10, 6, 4))[0]
            if segment == "education" and discount < 0.1:
                discount = 0.1
            items.append((len(items) + 1, order_id, product[0], quantity, unit_price, discount))
            total += quantity * unit_price * (1 - discount)
        if status != "cancelled":
            payments.extend(_payments(rng, len(payments) + 1, order_id, day, status, segment, round(total, 2)))
    return orders, items, payments


def _distinct_choices(rng: random.Random, population: list[tuple], weights: list[float], count: int) -> list[tuple]:
    chosen: dict[int, tuple] = {}
    while len(chosen) < count:
        product = rng.choices(population, weights=weights)[0]
        chosen.setdefault(product[0], product)
    return list(chosen.values())


def _payments(
    rng: random.Random, next_id: int, order_id: int, day: dt.date, status: str, segment: str, total: float
) -> list[tuple]:
    payment_status = {"pending": "pending", "returned": "refunded"}.get(status, "completed")
    method_weights = (60, 20, 15, 5) if segment == "business" else (68, 24, 2, 6)
    method = rng.choices(("card", "paypal", "bank_transfer", "gift_card"), weights=method_weights)[0]
    moment = dt.datetime.combine(day, dt.time(rng.randint(7, 22), rng.randint(0, 59), rng.randint(0, 59)))
    if method == "bank_transfer":
        # Transfers clear a few days after the order, unless the order is still pending.
        moment += dt.timedelta(days=rng.randint(1, 4)) if payment_status != "pending" else dt.timedelta()
        moment = min(moment, dt.datetime.combine(_LAST_DAY, dt.time(23, 59, 59)))
    paid_at = moment.isoformat(sep=" ")
    if method == "gift_card":
        # A gift card often covers part of the order; the card pays the rest a moment later.
        voucher = float(rng.choice((25, 50, 100)))
        if voucher < total:
            rest_at = (moment + dt.timedelta(seconds=rng.randint(5, 90))).isoformat(sep=" ")
            return [
                (next_id, order_id, paid_at, voucher, "gift_card", payment_status),
                (next_id + 1, order_id, rest_at, round(total - voucher, 2), "card", payment_status),
            ]
    return [(next_id, order_id, paid_at, total, method, payment_status)]


_REVENUE = "oi.quantity * oi.unit_price * (1 - oi.discount)"
_COUNTED = "o.status NOT IN ('cancelled', 'returned')"

DEMO_DESCRIPTIONS: tuple[DemoTable, ...] = (
    DemoTable(
        "categories",
        "Product categories of the shop's catalogue, one row per category.",
        (
            DemoColumn("id", "Category identifier."),
            DemoColumn("name", "Category name, e.g. 'Electronics' or 'Books'.", ("category",)),
            DemoColumn("description", "Short text saying what the category holds."),
        ),
        ("product categories", "departments"),
    ),
    DemoTable(
        "products",
        "Products the shop sells, with current list price and unit cost; inactive products are no longer sold.",
        (
            DemoColumn("id", "Product identifier."),
            DemoColumn("name", "Product name shown to customers.", ("product", "item")),
            DemoColumn("category_id", "Category of the product; joins categories.id."),
            DemoColumn("sku", "Stock keeping unit, a unique code like 'ELE-0003'.", ("stock code", "article number")),
            DemoColumn("price", "Current list price in US dollars (before discounts).", ("list price", "retail price")),
            DemoColumn("cost", "What one unit costs the shop in USD; margin is price minus cost.", ("unit cost",)),
            DemoColumn("active", "1 while the product is on sale, 0 once discontinued.", ("in stock", "available")),
        ),
        ("items", "articles", "catalogue"),
    ),
    DemoTable(
        "customers",
        "People and organisations who signed up with the shop, all in the United States.",
        (
            DemoColumn("id", "Customer identifier."),
            DemoColumn("first_name", "Customer's given name."),
            DemoColumn("last_name", "Customer's family name.", ("surname",)),
            DemoColumn("email", "Customer's e-mail address, unique.", ("e-mail",), sensitive=True),
            DemoColumn("city", "City of the customer's address."),
            DemoColumn("state", "US state of the customer's address, two-letter code, e.g. 'CA'.", ("region",)),
            DemoColumn("country", "Country code of the customer's address; always 'US'."),
            DemoColumn(
                "segment",
                "Kind of customer: 'consumer' (a private person), 'business' or 'education' (schools, colleges).",
                ("customer type", "market segment"),
            ),
            DemoColumn("signup_date", "Day the customer opened an account (ISO date).", ("registration date",)),
        ),
        ("clients", "buyers", "shoppers", "accounts"),
    ),
    DemoTable(
        "orders",
        "One row per order a customer placed, from 2023-01-01 to 2025-12-31; the order's lines are in order_items.",
        (
            DemoColumn("id", "Order identifier, also called the order number.", ("order number",)),
            DemoColumn("customer_id", "Customer who placed the order; joins customers.id."),
            DemoColumn("order_date", "Day the order was placed (ISO date text).", ("purchase date", "date of sale")),
            DemoColumn(
                "status",
                "Where the order stands: 'pending', 'shipped', 'delivered', 'cancelled' (never paid) or 'returned' "
                "(refunded).",
                ("order status",),
            ),
            DemoColumn("channel", "Where the order was placed: 'web', 'mobile' (app) or 'store'.", ("sales channel",)),
            DemoColumn("shipping_state", "US state (two-letter code) shipped to.", ("destination state",)),
        ),
        ("sales", "purchases", "transactions"),
    ),
    DemoTable(
        "order_items",
        "Lines of an order: which product, how many, at what price and discount.",
        (
            DemoColumn("id", "Order line identifier."),
            DemoColumn("order_id", "Order this line belongs to; joins orders.id."),
            DemoColumn("product_id", "Product bought; joins products.id."),
            DemoColumn("quantity", "Number of units bought.", ("units", "qty")),
            DemoColumn(
                "unit_price",
                "Price of one unit at the time of the order in US dollars, before the discount.",
                ("price paid", "sale price"),
            ),
            DemoColumn("discount", "Discount as a fraction of the line's price, e.g. 0.1 for 10 %.", ("rebate",)),
        ),
        ("order lines", "line items", "basket"),
    ),
    DemoTable(
        "payments",
        "Payments for orders: none for cancelled orders, usually one per order, two when a gift card covers part.",
        (
            DemoColumn("id", "Payment identifier."),
            DemoColumn("order_id", "Order the payment is for; joins orders.id."),
            DemoColumn("paid_at", "Date and time of the payment (ISO text 'YYYY-MM-DD HH:MM:SS').", ("payment date",)),
            DemoColumn("amount", "Amount paid in US dollars.", ("payment amount",)),
            DemoColumn(
                "method",
                "How it was paid: 'card', 'paypal', 'bank_transfer' or 'gift_card'.",
                ("payment method", "payment type"),
            ),
            DemoColumn(
                "status",
                "'completed', 'pending' (order not shipped yet) or 'refunded' (order returned).",
                ("payment status",),
            ),
        ),
        ("transactions", "charges"),
    ),
)

DEMO_INSTRUCTIONS: tuple[DemoInstruction, ...] = (
    DemoInstruction(
        "Revenue means the sum of order_items.quantity * order_items.unit_price * (1 - order_items.discount) over "
        "orders whose status is not 'cancelled' or 'returned'.",
        always=True,
    ),
    DemoInstruction(
        "Dates are ISO text: use strftime('%Y', order_date) for years and strftime('%Y-%m', order_date) for months; "
        "compare whole dates as strings, e.g. order_date >= '2025-01-01'.",
        always=True,
    ),
    DemoInstruction(
        "Average order value is revenue divided by the number of orders counted in it (not cancelled or returned); "
        "compute each order's total first, then average.",
        always=False,
    ),
    DemoInstruction(
        "Customer segments are customers.segment: 'consumer' for private people, 'business' for companies and "
        "'education' for schools and universities; education customers always get at least a 10 % discount.",
        always=False,
    ),
    DemoInstruction(
        "Payment methods are payments.method ('card', 'paypal', 'bank_transfer', 'gift_card'); an order can have two "
        "payments (gift card plus card), so count orders with COUNT(DISTINCT order_id). Money actually received is "
        "payments with status 'completed'.",
        always=False,
    ),
    DemoInstruction(
        "Margin or profit is order_items.quantity * (order_items.unit_price * (1 - order_items.discount) - "
        "products.cost) over orders that are not cancelled or returned.",
        always=False,
    ),
)

DEMO_GOLDEN_QUERIES: tuple[DemoGoldenQuery, ...] = (
    DemoGoldenQuery("How many customers are there?", "SELECT COUNT(*) AS customers FROM customers"),
    DemoGoldenQuery(
        "What was the total revenue in 2024?",
        f"SELECT ROUND(SUM({_REVENUE}), 2) AS revenue\n"
        "FROM orders o JOIN order_items oi ON oi.order_id = o.id\n"
        f"WHERE {_COUNTED} AND strftime('%Y', o.order_date) = '2024'",
    ),
    DemoGoldenQuery(
        "Top 5 products by revenue",
        f"SELECT p.name, ROUND(SUM({_REVENUE}), 2) AS revenue\n"
        "FROM order_items oi\n"
        "JOIN orders o ON o.id = oi.order_id\n"
        "JOIN products p ON p.id = oi.product_id\n"
        f"WHERE {_COUNTED}\n"
        "GROUP BY p.id, p.name\n"
        "ORDER BY revenue DESC\n"
        "LIMIT 5",
    ),
    DemoGoldenQuery(
        "Monthly number of orders in 2025",
        "SELECT strftime('%Y-%m', order_date) AS month, COUNT(*) AS orders\n"
        "FROM orders\n"
        "WHERE strftime('%Y', order_date) = '2025'\n"
        "GROUP BY month\n"
        "ORDER BY month",
    ),
    DemoGoldenQuery(
        "Revenue by customer segment",
        f"SELECT c.segment, ROUND(SUM({_REVENUE}), 2) AS revenue\n"
        "FROM orders o\n"
        "JOIN customers c ON c.id = o.customer_id\n"
        "JOIN order_items oi ON oi.order_id = o.id\n"
        f"WHERE {_COUNTED}\n"
        "GROUP BY c.segment\n"
        "ORDER BY revenue DESC",
    ),
    DemoGoldenQuery(
        "Which states have the most customers?",
        "SELECT state, COUNT(*) AS customers\n"
        "FROM customers\n"
        "GROUP BY state\n"
        "ORDER BY customers DESC, state\n"
        "LIMIT 10",
    ),
    DemoGoldenQuery(
        "Average order value by channel",
        "WITH order_totals AS (\n"
        f"    SELECT o.id, o.channel, SUM({_REVENUE}) AS total\n"
        "    FROM orders o JOIN order_items oi ON oi.order_id = o.id\n"
        f"    WHERE {_COUNTED}\n"
        "    GROUP BY o.id, o.channel\n"
        ")\n"
        "SELECT channel, ROUND(AVG(total), 2) AS average_order_value, COUNT(*) AS orders\n"
        "FROM order_totals\n"
        "GROUP BY channel\n"
        "ORDER BY average_order_value DESC",
    ),
    DemoGoldenQuery(
        "How many orders were cancelled each year?",
        "SELECT strftime('%Y', order_date) AS year, COUNT(*) AS cancelled_orders\n"
        "FROM orders\n"
        "WHERE status = 'cancelled'\n"
        "GROUP BY year\n"
        "ORDER BY year",
    ),
    DemoGoldenQuery(
        "Revenue by product category in 2025",
        f"SELECT cat.name AS category, ROUND(SUM({_REVENUE}), 2) AS revenue\n"
        "FROM order_items oi\n"
        "JOIN orders o ON o.id = oi.order_id\n"
        "JOIN products p ON p.id = oi.product_id\n"
        "JOIN categories cat ON cat.id = p.category_id\n"
        f"WHERE {_COUNTED} AND strftime('%Y', o.order_date) = '2025'\n"
        "GROUP BY cat.name\n"
        "ORDER BY revenue DESC",
    ),
    DemoGoldenQuery(
        "How much was paid with each payment method?",
        "SELECT method, COUNT(DISTINCT order_id) AS orders, ROUND(SUM(amount), 2) AS amount\n"
        "FROM payments\n"
        "WHERE status = 'completed'\n"
        "GROUP BY method\n"
        "ORDER BY amount DESC",
    ),
)
