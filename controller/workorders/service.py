"""Work-order operations. Every change names its actor and lands in the order's history.

The public form knows a room only by its token (a QR code on the door, no account); a flood from
one room is refused by counting that room's public reports in the window — from the store, so a
restart does not reset the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from controller.core import Clock

from .model import TRANSITIONS, Category, Change, Status, WorkOrder, WorkOrderError
from .photos import MAX_PHOTO_BYTES, PHOTO_PREFIX, PhotoRefused, checked_name, new_name, sniff
from .store import WorkOrderStore

if TYPE_CHECKING:
    from controller.alarms.model import AlarmRecord

__all__ = ["PUBLIC_ACTOR", "RateLimited", "WorkOrders"]

PUBLIC_ACTOR = "public:form"
MAX_DESCRIPTION = 2000
MAX_PHOTOS = 4

_CATEGORY_OF_KIND = {
    "leak": Category.WATER,
    "overload": Category.ELECTRICITY,
    "valve_stuck": Category.VALVE,
}


class RateLimited(WorkOrderError):
    """The room sent too many public reports in the window."""


def _category(text: str | Category) -> Category:
    try:
        return Category(text)
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise WorkOrderError(f"category: {text!r} is not one of {names}") from None


class WorkOrders:
    def __init__(
        self,
        store: WorkOrderStore,
        clock: Clock,
        *,
        sla_s: Mapping[Category, float] | None = None,
        auto_kinds: Collection[str] = (),
        device_online: Callable[[str], bool] | None = None,
        on_escalate: Callable[[WorkOrder], None] | None = None,
        public_limit: int = 3,
        public_window_s: float = 3600.0,
        places: Collection[str] | None = None,
        devices: Collection[str] | None = None,
        place_of: Callable[[str], str] | None = None,
        photo_max_bytes: int = MAX_PHOTO_BYTES,
    ) -> None:
        """``places``: the rooms (``building/room``), areas and buildings an order may name
        (None: any); ``place_of``: where an alarm's target is (a device's room, a bus's
        building); ``device_online``: whether a device (or every device of a bus) answers."""
        self.store, self.clock = store, clock
        self.sla_s = dict(sla_s or {})
        self.auto_kinds = frozenset(auto_kinds)
        self.device_online, self.on_escalate = device_online, on_escalate
        self.public_limit, self.public_window_s = public_limit, public_window_s
        self.places = None if places is None else frozenset(places)
        self.devices = None if devices is None else frozenset(devices)
        self.place_of = place_of
        self.photo_max_bytes = photo_max_bytes

    def open(
        self,
        room: str,
        category: str | Category,
        description: str,
        *,
        actor: str,
        device: str | None = None,
        photos: Sequence[str] = (),
        alarm_key: str | None = None,
        known_place: bool = False,
    ) -> WorkOrder:
        if not room.strip():
            raise WorkOrderError("room: must not be empty")
        if not known_place and self.places is not None and room not in self.places:
            raise WorkOrderError(f"room: no room, area or building {room!r} in this site")
        if device is not None and self.devices is not None and device not in self.devices:
            raise WorkOrderError(f"device: no device {device!r} in this site")
        if not description.strip() or len(description) > MAX_DESCRIPTION:
            raise WorkOrderError(f"description: 1 to {MAX_DESCRIPTION} characters")
        if len(photos) > MAX_PHOTOS:
            raise WorkOrderError(f"photos: at most {MAX_PHOTOS}")
        now = self.clock.time()
        order = WorkOrder(
            id=self.store.next_id(),
            room=room,
            category=_category(category),
            description=description.strip(),
            status=Status.NEW,
            opened_at=now,
            opened_by=actor,
            device=device,
            alarm_key=alarm_key,
            photos=list(photos),
        )
        order.history.append(Change(now, actor, "open", {"category": str(order.category)}))
        self.store.put(order)
        return order

    def report(
        self, token: str, category: str, description: str, photos: Sequence[str] = ()
    ) -> WorkOrder:
        """A student's report through the room's public link."""
        room = self.store.room_of_token(token)
        if room is None:
            raise WorkOrderError("token: unknown room link")
        since = self.clock.time() - self.public_window_s
        recent = [
            o
            for o in self.store.list(room=room)
            if o.opened_by == PUBLIC_ACTOR and o.opened_at >= since
        ]
        if len(recent) >= self.public_limit:
            raise RateLimited(f"room {room}: at most {self.public_limit} reports per hour")
        return self.open(room, category, description, actor=PUBLIC_ACTOR, photos=photos)

    def from_alarm(self, record: AlarmRecord, *, actor: str) -> WorkOrder:
        place = self.place_of(record.target) if self.place_of is not None else record.target
        return self.open(
            place,
            _CATEGORY_OF_KIND.get(record.kind, Category.OTHER),
            f"{record.message_zh or record.message_en} [{record.key}]",
            actor=actor,
            device=record.target if record.scope in ("device", "bus") else None,
            alarm_key=record.key,
            known_place=True,
        )

    def alarm_listener(self, change: str, record: AlarmRecord) -> None:
        """For ``AlarmManager.listeners``: open an order for each new alarm of a chosen kind."""
        if (
            change == "raised"
            and record.kind in self.auto_kinds
            and not any(
                o.alarm_key == record.key and o.status != Status.CLOSED for o in self.store.list()
            )
        ):
            self.from_alarm(record, actor="system:alarms")

    def get(self, order_id: int) -> WorkOrder:
        order = self.store.get(order_id)
        if order is None:
            raise WorkOrderError(f"work order {order_id}: not found")
        return order

    def _move(self, order_id: int, to: Status, actor: str, **details: Any) -> WorkOrder:
        order = self.get(order_id)
        if to not in TRANSITIONS[order.status]:
            raise WorkOrderError(f"work order {order_id}: cannot go from {order.status} to {to}")
        now = self.clock.time()
        order.status = to
        order.history.append(Change(now, actor, str(to), details))
        return order

    def assign(self, order_id: int, assignee: str, *, actor: str) -> WorkOrder:
        order = self._move(order_id, Status.ASSIGNED, actor, assignee=assignee)
        order.assignee = assignee
        self.store.put(order)
        return order

    def start(self, order_id: int, *, actor: str) -> WorkOrder:
        order = self._move(order_id, Status.IN_PROGRESS, actor)
        self.store.put(order)
        return order

    def done(self, order_id: int, *, actor: str, note: str = "") -> WorkOrder:
        order = self._move(order_id, Status.DONE, actor, note=note)
        self.store.put(order)
        return order

    def close(self, order_id: int, *, actor: str, note: str) -> WorkOrder:
        """Close with a note; an order about a device needs the device answering again."""
        if not note.strip():
            raise WorkOrderError("note: a closing note is required")
        current = self.get(order_id)
        online = self.device_online
        if current.device and online is not None and not online(current.device):
            raise WorkOrderError(f"work order {order_id}: device {current.device} is still offline")
        order = self._move(order_id, Status.CLOSED, actor, note=note)
        order.closed_at, order.closing_note = self.clock.time(), note
        self.store.put(order)
        return order

    def add_photo(self, order_id: int, data: bytes, *, actor: str) -> WorkOrder:
        """Keep an uploaded photo with the order (JPEG, PNG or WebP by its bytes; at most
        ``photo_max_bytes``; at most ``MAX_PHOTOS`` photos an order; not once it is closed)."""
        order = self.get(order_id)
        if order.status is Status.CLOSED:
            raise WorkOrderError(f"work order {order_id}: closed, no more photos")
        if len(order.photos) >= MAX_PHOTOS:
            raise WorkOrderError(f"photos: at most {MAX_PHOTOS} an order")
        if len(data) > self.photo_max_bytes:
            raise PhotoRefused(f"photo: larger than {self.photo_max_bytes} bytes", 413)
        mime = sniff(data)
        if mime is None:
            raise PhotoRefused("photo: not a JPEG, PNG or WebP image", 415)
        name = new_name(mime)
        self.store.put_photo(order_id, name, mime, data)
        order.photos.append(PHOTO_PREFIX + name)
        order.history.append(Change(self.clock.time(), actor, "photo", {"name": name}))
        self.store.put(order)
        return order

    def photo(self, order_id: int, name: str) -> tuple[str, bytes]:
        """An uploaded photo's type and bytes (a "not found" error for anything else)."""
        found = self.store.photo(order_id, checked_name(name))
        if found is None:
            raise WorkOrderError(f"photo {name!r}: not found")
        return found

    def check_sla(self) -> list[WorkOrder]:
        """Orders past their category's SLA, escalated once each."""
        now = self.clock.time()
        late: list[WorkOrder] = []
        for order in self.store.list():
            sla = self.sla_s.get(order.category)
            if order.status in (Status.DONE, Status.CLOSED) or order.sla_escalated or sla is None:
                continue
            if now - order.opened_at >= sla:
                order.sla_escalated = True
                order.history.append(Change(now, "system:sla", "escalate", {"sla_s": sla}))
                self.store.put(order)
                late.append(order)
                if self.on_escalate is not None:
                    self.on_escalate(order)
        return late

    def figures(self) -> dict[str, Any]:
        """For reports: counts by category and status, mean hours to close per category."""
        by_cat: dict[str, dict[str, Any]] = {}
        for order in self.store.list():
            fig = by_cat.setdefault(str(order.category), {"count": 0, "closed": 0, "hours": 0.0})
            fig["count"] += 1
            fig.setdefault("by_status", {}).setdefault(str(order.status), 0)
            fig["by_status"][str(order.status)] += 1
            if order.closed_at is not None:
                fig["closed"] += 1
                fig["hours"] += (order.closed_at - order.opened_at) / 3600
        for fig in by_cat.values():
            hours = fig.pop("hours")
            fig["mean_hours_to_close"] = round(hours / fig["closed"], 2) if fig["closed"] else None
        return {"categories": by_cat}
