"""The work of every list or string a client controls grows no faster than linearly (issue #27).

Each input is sent at two sizes, n and 10n, in the same run; the test fails when the CPU time grows by
more than :data:`tests.growth.LINEAR` (linear work gives about 10, quadratic about 100). Ratios, not
times: the bounds themselves are tests/test_input_bounds.py, the absolute costs ``make bench``.
"""

from typing import Any

from chalicelib.provisioning.activity import WriteNotes
from tests.growth import LINEAR, growth


def _group(members: range) -> dict[str, Any]:
    return {"id": "g-1", "displayName": "Finance", "members": [{"value": f"u-{n:06d}"} for n in members]}


def test_the_trail_s_member_diff_is_linear_in_the_members() -> None:
    # 20,000 members took 94 s after the write committed: a set was rebuilt for each member.
    def diff(n: int) -> Any:
        before, after = _group(range(n)), _group(range(n // 2, n + n // 2))
        return lambda: WriteNotes().wrote_documents("Group", before, after)

    assert growth(diff(2_000), diff(20_000)) < LINEAR
