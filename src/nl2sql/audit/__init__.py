"""Audit: every admin change recorded with its transaction (who, when, what, before and after), and its viewer."""

from nl2sql.audit.log import AuditEntry, AuditLog, TargetNames, record
from nl2sql.audit.viewer import routes

__all__ = ["AuditEntry", "AuditLog", "TargetNames", "record", "routes"]
