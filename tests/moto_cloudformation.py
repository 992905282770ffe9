"""Let moto's CloudFormation (5.2.5) protect a stack from deletion, as ``make deploy-infra`` asks it to, and
give a stack made by a change set its outputs (:func:`change_set_outputs`).

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


@contextmanager
def change_set_outputs() -> Iterator[None]:
    """Outputs for a stack a change set made or changed, as AWS gives them (``make deploy-infra`` reads them).

    moto builds a stack's outputs when the stack is created: one a change set creates starts empty, and
    executing the change set leaves its outputs at none.
    """
    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        for change_set in self.change_sets.values():
            if change_set_name in (change_set.change_set_id, change_set.change_set_name):
                stack = self.stacks[change_set.stack_id]
                stack._parse_template()  # moto keeps the change set's template text, not what it reads from it
                stack.output_map = stack._create_output_map()

    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudFormationBackend.execute_change_set = original  # type: ignore[method-assign]
