"""What every stored resource carries: ``meta`` with its times and its version, which is also its ETag.

The version counts the writes of a resource; every update is conditioned on the
version it read, which gives ETags and ``If-Match`` (:rfc:`RFC 7644 §3.14`) for free.
"""

from datetime import UTC, datetime

from scim2_models import Meta, PreconditionFailedException, ResourceType


def now() -> datetime:
    return datetime.now(UTC)


def etag(version: int) -> str:
    return f'W/"{version}"'


def version_of(tag: str | None) -> int | None:
    """Return the write counter an ETag holds; -1 for a tag that is not one of ours."""
    if tag is None:
        return None
    text = tag.removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else -1


def check_version(expected: str | None, version: int) -> None:
    """:raises PreconditionFailedException: When the client pinned a version that is not the stored one."""
    if expected is not None and version_of(expected) != version:
        raise PreconditionFailedException(detail="The resource changed since the given version")


def meta(resource_type: ResourceType, version: int, created: str, last_modified: str) -> Meta:
    return Meta(
        resource_type=resource_type.name,
        created=datetime.fromisoformat(created),
        last_modified=datetime.fromisoformat(last_modified),
        version=etag(version),
    )
