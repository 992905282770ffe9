"""The management API's one error: a stable code, a message for a person, the field at fault, an HTTP status."""

from dataclasses import dataclass


@dataclass(eq=False)
class ManagementError(Exception):
    """A refused management request. ``code`` is stable (clients branch on it); ``message`` is for people."""

    status: int
    code: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, str]:
        document = {"code": self.code, "message": self.message}
        if self.field is not None:
            document["field"] = self.field
        return document
