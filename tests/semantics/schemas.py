"""Invented schemas for the semantics tests (a library, a clinic, a fleet of trucks, a web shop): catalog
PromptSchemas built by hand, so the reader is tested on databases it was never tuned on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nl2sql.catalog import ForeignKey, JoinHint, PromptColumn, PromptSchema, PromptTable


def column(name: str, type_: str = "TEXT", *, pk: bool = False, values: tuple[str, ...] | None = None,
           description: str = "", synonyms: tuple[str, ...] = (), business_name: str = "", nullable: bool = True,
           sensitive: bool = False) -> PromptColumn:
    return PromptColumn(name=name, type=type_, description=description, business_name=business_name,
                        synonyms=synonyms, nullable=nullable and not pk, primary_key=pk, sensitive=sensitive,
                        values=values)


def table(name: str, *columns: PromptColumn, fks: tuple[tuple[str, str, str], ...] = (), description: str = "",
          synonyms: tuple[str, ...] = (), schema: str | None = None, rows: int | None = 100) -> PromptTable:
    return PromptTable(schema, name, description, "", synonyms, rows, tuple(columns),
                       tuple(ForeignKey((c,), None, t, (r,)) for c, t, r in fks))


def prompt_schema(dialect: str, *tables: PromptTable, hints: tuple[JoinHint, ...] = (), connection_id: int = 1) -> PromptSchema:
    return PromptSchema(connection_id, "test", dialect, "", tuple(tables), hints, datetime(2026, 1, 1, tzinfo=UTC))


def library(dialect: str = "sqlite") -> PromptSchema:
    """Authors write books (through a bridge), members borrow them."""
    return prompt_schema(
        dialect,
        table("authors", column("id", "INTEGER", pk=True), column("name"),
              column("country", values=("France", "Japan", "Nigeria", "Peru"))),
        table("books", column("id", "INTEGER", pk=True), column("title"),
              column("genre", values=("fantasy", "history", "poetry", "science")),
              column("pages", "INTEGER", description="Number of pages"),
              column("price", "NUMERIC(8,2)", description="List price in euros"),
              column("published_on", "DATE", description="Day the book came out"),
              description="Books the library holds"),
        table("book_authors", column("book_id", "INTEGER"), column("author_id", "INTEGER"),
              fks=(("book_id", "books", "id"), ("author_id", "authors", "id"))),
        table("members", column("id", "INTEGER", pk=True), column("first_name"), column("last_name"),
              column("city", values=("Lagos", "Lima", "Lyon", "Osaka")),
              column("joined_on", "DATE", description="Day the member signed up"),
              column("is_active", "INTEGER", description="1 while the membership runs")),
        table("loans", column("id", "INTEGER", pk=True), column("book_id", "INTEGER"), column("member_id", "INTEGER"),
              column("loaned_on", "DATE", description="Day the book was lent"),
              column("returned_on", "DATE", description="Day it came back; empty while lent out"),
              column("fee", "NUMERIC(6,2)", description="Late fee charged"),
              fks=(("book_id", "books", "id"), ("member_id", "members", "id")),
              description="Each time a member borrowed a book", synonyms=("borrowings", "checkouts")),
    )


LIBRARY_DDL = (
    "CREATE TABLE authors (id INTEGER PRIMARY KEY, name VARCHAR(100), country VARCHAR(40))",
    "CREATE TABLE books (id INTEGER PRIMARY KEY, title VARCHAR(200), genre VARCHAR(40), pages INTEGER, "
    "price NUMERIC(8,2), published_on DATE)",
    "CREATE TABLE book_authors (book_id INTEGER REFERENCES books(id), author_id INTEGER REFERENCES authors(id))",
    "CREATE TABLE members (id INTEGER PRIMARY KEY, first_name VARCHAR(50), last_name VARCHAR(50), city VARCHAR(40), "
    "joined_on DATE, is_active INTEGER)",
    "CREATE TABLE loans (id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES books(id), "
    "member_id INTEGER REFERENCES members(id), loaned_on DATE, returned_on DATE, fee NUMERIC(6,2))",
)
LIBRARY_ROWS: dict[str, list[tuple[Any, ...]]] = {
    "authors": [(1, "Ada Obi", "Nigeria"), (2, "Ken Sato", "Japan"), (3, "Luc Martin", "France"), (4, "Rosa Quispe", "Peru")],
    "books": [
        (1, "The Glass Tower", "fantasy", 420, 19.5, "2019-03-02"),
        (2, "Rivers of Lima", "history", 310, 24.0, "2021-07-15"),
        (3, "Night Haiku", "poetry", 96, 12.0, "2021-11-30"),
        (4, "Stars and Atoms", "science", 512, 35.0, "2022-01-10"),
        (5, "Dragon Winter", "fantasy", 380, 21.0, "2023-05-05"),
        (6, "Empires Lost", "history", 605, 31.5, "2023-09-09"),
    ],
    "book_authors": [(1, 1), (2, 4), (3, 2), (4, 3), (4, 1), (5, 1), (6, 3)],
    "members": [
        (1, "Ifeoma", "Adeyemi", "Lagos", "2020-01-15", 1), (2, "Pedro", "Rojas", "Lima", "2021-06-01", 1),
        (3, "Claire", "Dubois", "Lyon", "2022-02-20", 0), (4, "Yuki", "Tanaka", "Osaka", "2023-08-08", 1),
        (5, "Chidi", "Okafor", "Lagos", "2023-10-10", 1),
    ],
    "loans": [
        (1, 1, 1, "2023-01-05", "2023-01-20", 0.0), (2, 2, 2, "2023-02-10", "2023-03-15", 2.5),
        (3, 1, 2, "2023-04-01", None, 0.0), (4, 4, 1, "2023-06-12", "2023-06-30", 0.0),
        (5, 5, 4, "2023-09-01", "2023-10-05", 3.0), (6, 6, 5, "2023-11-11", None, 0.0),
        (7, 4, 4, "2024-01-03", "2024-01-10", 0.0), (8, 1, 1, "2024-02-14", "2024-02-28", 1.0),
    ],
}


def clinic(dialect: str = "postgres") -> PromptSchema:
    """Patients visit doctors; visits have diagnoses and bills."""
    return prompt_schema(
        dialect,
        table("doctors", column("doctor_id", "INTEGER", pk=True), column("full_name"),
              column("specialty", values=("cardiology", "dermatology", "pediatrics"))),
        table("patients", column("patient_id", "INTEGER", pk=True), column("full_name"), column("birth_date", "DATE"),
              column("insurance", values=("none", "private", "public"), nullable=True)),
        table("visits", column("visit_id", "INTEGER", pk=True), column("patient_id", "INTEGER"),
              column("doctor_id", "INTEGER"), column("visit_date", "TIMESTAMP"),
              column("bill_amount", "NUMERIC(10,2)", description="What the visit cost"),
              column("diagnosis", values=("flu", "eczema", "arrhythmia", "checkup")),
              fks=(("patient_id", "patients", "patient_id"), ("doctor_id", "doctors", "doctor_id"))),
    )


def fleet(dialect: str = "mysql") -> PromptSchema:
    """Trucks make trips driven by drivers; fuel purchases per truck."""
    return prompt_schema(
        dialect,
        table("trucks", column("truck_id", "INTEGER", pk=True), column("plate_number"),
              column("model", values=("Volvo FH", "Scania R", "MAN TGX")), column("capacity_tons", "INTEGER")),
        table("drivers", column("driver_id", "INTEGER", pk=True), column("name"), column("hired_on", "DATE"),
              column("license_class", values=("C", "CE"))),
        table("trips", column("trip_id", "INTEGER", pk=True), column("truck_id", "INTEGER"),
              column("driver_id", "INTEGER"), column("started_at", "DATETIME"),
              column("distance_km", "NUMERIC(8,1)"), column("cargo", values=("grain", "steel", "timber")),
              fks=(("truck_id", "trucks", "truck_id"), ("driver_id", "drivers", "driver_id"))),
        table("fuel_purchases", column("purchase_id", "INTEGER", pk=True), column("truck_id", "INTEGER"),
              column("liters", "NUMERIC(8,2)"), column("purchased_on", "DATE"),
              fks=(("truck_id", "trucks", "truck_id"),)),
    )


def web_shop(dialect: str = "sqlite") -> PromptSchema:
    """Customers place orders of products; names run together and only join hints connect some tables."""
    return prompt_schema(
        dialect,
        table("shopcustomer", column("custid", "INTEGER", pk=True), column("custname"),
              column("custcountry", values=("Canada", "Kenya", "Norway"))),
        table("shoporder", column("orderid", "INTEGER", pk=True), column("ordercustid", "INTEGER"),
              column("orderdate", "DATE"), column("ordertotal", "NUMERIC(10,2)"),
              column("orderstatus", values=("open", "paid", "refunded"))),
        table("shopproduct", column("productid", "INTEGER", pk=True), column("productname"),
              column("productprice", "NUMERIC(10,2)")),
        hints=(JoinHint(1, "shoporder", "shopcustomer", (("ordercustid", "custid"),)),),
    )


def sports(dialect: str = "sqlite") -> PromptSchema:
    """Athletes play for teams; teams play games. Columns named as a person would (height, weight, attendance)."""
    return prompt_schema(
        dialect,
        table("teams", column("team_id", "INTEGER", pk=True), column("team_name"),
              column("home_city", values=("Oslo", "Quito", "Perth", "Dakar")), column("stadium_capacity", "INTEGER")),
        table("athletes", column("athlete_id", "INTEGER", pk=True), column("name"), column("height", "REAL"),
              column("weight", "REAL"), column("nationality", values=("Norway", "Ecuador", "Senegal")),
              column("position", values=("keeper", "defender", "forward")), column("team_id", "INTEGER"),
              fks=(("team_id", "teams", "team_id"),)),
        table("games", column("game_id", "INTEGER", pk=True), column("team_id", "INTEGER"),
              column("played_on", "DATE"), column("attendance", "INTEGER"),
              fks=(("team_id", "teams", "team_id"),)),
        table("team_sponsors", column("sponsor_id", "INTEGER", pk=True), column("team_id", "INTEGER"),
              column("sponsor_name"), column("amount", "REAL"), fks=(("team_id", "teams", "team_id"),)),
    )
