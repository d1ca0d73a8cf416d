"""Getting alarms to people: channels (webhook, e-mail, WeCom, DingTalk), routing, an outbox."""

from .channels import (
    Channel,
    DeliveryError,
    DingTalkChannel,
    EmailChannel,
    WebhookChannel,
    WeComChannel,
    redact_url,
)
from .outbox import Outbox
from .router import Notifier, QuietHours, Route

__all__ = [
    "Channel",
    "DeliveryError",
    "DingTalkChannel",
    "EmailChannel",
    "Notifier",
    "Outbox",
    "QuietHours",
    "Route",
    "WeComChannel",
    "WebhookChannel",
    "redact_url",
]
