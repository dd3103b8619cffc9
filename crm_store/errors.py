"""Errors the store raises for callers (CLI, web, flows) to show to a person."""


class CrmError(Exception):
    """A problem a user can fix; shown as one line, never as a traceback."""


class ValidationError(CrmError):
    """A value that breaks a rule; names the field it is about."""

    def __init__(self, field: str, message: str, *, row: int | None = None) -> None:
        self.field = field
        self.message = message
        self.row = row
        where = f"row {row}: " if row is not None else ""
        super().__init__(f"{where}{field}: {message}")


class NotFound(CrmError):
    """A record, user or setting that does not exist."""
