"""The join graph of a schema (foreign keys plus join hints) and the bridge tables that connect chosen tables."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from nl2sql.catalog import JoinHint, PromptTable


@dataclass(frozen=True)
class Edge:
    """A way to join two tables: column pairs (left table's column, right table's column)."""

    left: str
    right: str
    pairs: tuple[tuple[str, str], ...]


def _resolve(ref: str, names: dict[str, str]) -> str | None:
    """A table reference of a hint or key (`t`, `schema.t`) to the qualified name used in the schema."""
    ref = ref.strip()
    if ref in names:
        return names[ref]
    return names.get(ref.rpartition(".")[2]) if "." in ref else None


def _column(ref: str) -> str:
    return ref.strip().rpartition(".")[2]


class JoinGraph:
    """Undirected graph of tables; edges from declared foreign keys and curated join hints."""

    def __init__(self, tables: tuple[PromptTable, ...], hints: tuple[JoinHint, ...]) -> None:
        names: dict[str, str] = {}
        for table in tables:
            names[table.qualified_name] = table.qualified_name
            names.setdefault(table.name, table.qualified_name)
        self.edges: dict[str, dict[str, Edge]] = {t.qualified_name: {} for t in tables}
        for table in tables:
            for fk in table.foreign_keys:
                ref = f"{fk.ref_schema}.{fk.ref_table}" if fk.ref_schema else fk.ref_table
                target = _resolve(ref, names)
                if target is not None:
                    self._add(table.qualified_name, target, tuple(zip(fk.columns, fk.ref_columns, strict=False)))
        for hint in hints:
            left, right = _resolve(hint.left_table, names), _resolve(hint.right_table, names)
            if left is not None and right is not None:
                self._add(left, right, tuple((_column(a), _column(b)) for a, b in hint.pairs))

    def _add(self, left: str, right: str, pairs: tuple[tuple[str, str], ...]) -> None:
        if left == right:
            # a self-reference (manager_id -> id) joins nothing new but its columns still matter
            self.edges[left].setdefault(left, Edge(left, left, pairs))
            return
        if right not in self.edges[left]:
            self.edges[left][right] = Edge(left, right, pairs)
            self.edges[right][left] = Edge(right, left, tuple((b, a) for a, b in pairs))

    def neighbours(self, table: str) -> list[str]:
        return [t for t in self.edges.get(table, {}) if t != table]

    def path(self, sources: set[str], target: str, max_hops: int) -> list[str] | None:
        """Shortest path (table names, target last, a source first) from any source to target, within max_hops."""
        if target in sources:
            return [target]
        parents: dict[str, str | None] = {s: None for s in sources}
        queue = deque((s, 0) for s in sorted(sources))
        while queue:
            node, hops = queue.popleft()
            if hops >= max_hops:
                continue
            for nxt in self.neighbours(node):
                if nxt in parents:
                    continue
                parents[nxt] = node
                if nxt == target:
                    path = [nxt]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    return path[::-1]
                queue.append((nxt, hops + 1))
        return None

    def connect(self, chosen: list[str], max_hops: int = 4) -> list[str]:
        """Bridge tables (not in `chosen`) on shortest paths that join each chosen table to those before it."""
        if not chosen:
            return []
        tree = {chosen[0]}
        bridges: list[str] = []
        for table in chosen[1:]:
            if table in tree:
                continue
            path = self.path(tree, table, max_hops)
            if path:
                for node in path[1:-1]:
                    if node not in tree:
                        bridges.append(node)
                        tree.add(node)
            tree.add(table)
        return [b for b in bridges if b not in chosen]

    def join_columns(self, tables: set[str]) -> dict[str, set[str]]:
        """Columns of each table that join it to another of `tables` (so pruning keeps them)."""
        keep: dict[str, set[str]] = {t: set() for t in tables}
        for table in tables:
            for other, edge in self.edges.get(table, {}).items():
                if other in tables:
                    keep[table].update(a for a, _ in edge.pairs)
                    keep[other].update(b for _, b in edge.pairs)
        return keep
