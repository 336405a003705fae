"""POSTing notification payloads, signed per Standard Webhooks.

Every request carries ``webhook-id`` (the notification event id, the same on
every retry so receivers can drop duplicates), ``webhook-timestamp`` (Unix
seconds at sending) and ``webhook-signature``: ``v1,`` + base64 of
HMAC-SHA256 over ``"{id}.{timestamp}.{body}"``, keyed by the base64-decoded
part of the channel's ``whsec_`` secret. The channel's custom headers come
first so they can never replace these.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import msgspec
from standardwebhooks import Webhook

from meterd import __version__
from meterd.domain.notifications import DeliveryJob, SendResult

READ_LIMIT = 4096  # of a receiver's answer; the rest is not even downloaded
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode_payload(job: DeliveryJob) -> bytes:
    """The request body: exact decimals, no float round-trip."""
    return _encoder.encode(job.event.payload)


def signature_headers(secret: str, msg_id: str, body: bytes, at: int) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent at Unix time ``at``."""
    signer = Webhook(secret)
    sent = datetime.fromtimestamp(at, UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(at),
        "webhook-signature": signer.sign(msg_id, sent, body.decode()),
    }


class WebhookSender:
    """Sends one delivery at a time; safe to share between threads."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            # A redirect is the receiver's misconfiguration: following it
            # would post signed data to a URL nobody configured.
            follow_redirects=False,
            headers={"user-agent": f"meterd-webhooks/{__version__}"},
        )

    def close(self) -> None:
        self._client.close()

    def send(self, job: DeliveryJob) -> SendResult:
        channel = job.channel
        if channel is None:
            raise ValueError("a delivery without a channel cannot be sent")
        body = encode_payload(job)
        headers = dict(channel.custom_headers)
        headers["content-type"] = "application/json"
        signed = signature_headers(channel.signing_secret, job.event.id, body, int(time.time()))
        headers.update(signed)
        started = time.monotonic()
        try:
            with self._client.stream("POST", channel.url, content=body, headers=headers) as r:
                answer = b""
                for chunk in r.iter_bytes():
                    answer += chunk
                    if len(answer) >= READ_LIMIT:
                        break
                status: int | None = r.status_code
                text = answer[:READ_LIMIT].decode("utf-8", "replace")
        except httpx.HTTPError as exc:
            status = None
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration = int((time.monotonic() - started) * 1000)
        return SendResult(status_code=status, body=text, duration_ms=duration, url=channel.url)
