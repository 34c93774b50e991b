"""What every recovery action shares: its name, its answer, and the apply it acts on, read and
checked against what the operator saw."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from applies.models import Apply
from applies.redact import short_token
from applies.services.errors import Refusal, Refused, RowChanged
from applies.services.seen import Seen


class Action(StrEnum):
    RECLAIM = "reclaim"
    STOP = "stop"
    START = "start"


@dataclass(frozen=True)
class ActionResult:
    apply_id: int
    action: Action
    ok: bool
    message: str
    state: str = ""  # the apply's state afterwards
    lease: str = ""  # the apply's lease token afterwards, shortened
    drive_id: int | None = None
    changed: bool = True  # False for a request that was already pending
    refusal: Refusal | None = None

    @classmethod
    def of(cls, apply: Apply, action: Action, message: str, **extra: Any) -> ActionResult:
        """A taken action, with the apply as it is afterwards."""
        lease = short_token(apply.lease_token)
        return cls(apply.pk, action, True, message, state=apply.state, lease=lease, **extra)

    @classmethod
    def refused(cls, apply_id: int, action: Action, refusal: Refused) -> ActionResult:
        return cls(apply_id, action, False, refusal.message, refusal=refusal.code)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = self.action.value
        data["refusal"] = self.refusal.value if self.refusal else None
        return data


def read_apply(apply_id: int, *, lock: bool = False) -> Apply:
    """The apply (row-locked when asked: inside a transaction), or a ``not_found`` refusal."""
    queryset = Apply.objects.filter(pk=apply_id)
    if lock:
        queryset = queryset.select_for_update()
    apply = queryset.first()
    if apply is None:
        raise Refused(f"there is no apply with id {apply_id}", code=Refusal.NOT_FOUND)
    return apply


def check_seen(apply: Apply, seen: Seen) -> None:
    """Refuse unless the apply's lease token and state are what the operator saw."""
    if not seen.same_lease(apply):
        holder = f" by {apply.lease_owner}" if apply.lease_owner else ""
        raise RowChanged(
            "the driver came back: the lease changed since you loaded the page (now "
            f"{short_token(apply.lease_token) or 'none'}{holder}, state {apply.state}); "
            "reload and decide again"
        )
    if not seen.same_state(apply):
        raise RowChanged(
            f"the apply moved on: it is {apply.state} now, you saw {seen.state or 'no state'}; "
            "reload and decide again"
        )
