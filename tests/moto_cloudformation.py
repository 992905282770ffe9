"""Let moto's CloudFormation (5.2.5) protect a stack from deletion, as ``make deploy-infra`` asks it to.

moto stores ``EnableTerminationProtection`` given at creation and reads it back, but answers
``UpdateTerminationProtection`` (the call ``make deploy-infra`` makes after ``cloudformation deploy``)
with a 500, and deletes a protected stack anyway. Patched in the test's own moto server process:
the call sets the flag, and ``DeleteStack`` of a protected stack is refused with AWS's message, so a
test proves that ``make destroy`` lifts the protection before it deletes.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult


def _update_termination_protection(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = self._get_param("EnableTerminationProtection") in (True, "true")
    return ActionResult({"StackId": stack.stack_id})


@contextmanager
def termination_protection() -> Iterator[None]:
    original_delete = CloudFormationBackend.delete_stack

    def delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> Any:
        stack = self.get_stack(name_or_stack_id)
        if stack.enable_termination_protection:
            raise ValidationError(
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
            )
        return original_delete(self, name_or_stack_id)

    CloudFormationResponse.update_termination_protection = _update_termination_protection  # type: ignore[attr-defined]
    CloudFormationBackend.delete_stack = delete_stack  # type: ignore[method-assign]
    try:
        yield
    finally:
        del CloudFormationResponse.update_termination_protection  # type: ignore[attr-defined]
        CloudFormationBackend.delete_stack = original_delete  # type: ignore[method-assign]
