"""Step "event_log": the event log replays to the quote's RTMRs, and RTMR3's dstack events are what they claim.

Replay: each RTMR starts at 48 zero bytes and extends as ``rtmr = sha384(rtmr || digest)`` for every event of
that register, in order. dstack's own (RTMR3) events carry their content: the digest must be
``sha384(le_u32(0x08000001) || ":" || event || ":" || payload)``, so the app id and compose hash they name are
the ones measured.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Any

from cluster.tee.errors import VerificationFailed

DSTACK_EVENT_TYPE = 0x08000001
#: RTMR3 events dstack extends before it hands over to the app (``boot-mr-done``)
BOOT_EVENTS = frozenset({"app-id", "compose-hash", "instance-id"})
#: every RTMR3 event a verifier relies on: each at most once, and before ``system-ready``
RELIED_ON = BOOT_EVENTS | {"key-provider", "os-image-hash", "mr-kms", "e2ee-key"}


def replay(events: Sequence[dict[str, Any]]) -> tuple[bytes, bytes, bytes, bytes]:
    registers = [bytes(48)] * 4
    for event in events:
        imr = int(event["imr"])
        if not 0 <= imr <= 3:
            raise VerificationFailed("event_log", f"event for register {imr}: only RTMR0-3 exist")
        registers[imr] = hashlib.sha384(registers[imr] + bytes.fromhex(event["digest"])).digest()
    return registers[0], registers[1], registers[2], registers[3]


def dstack_digest(event: str, payload: bytes) -> bytes:
    return hashlib.sha384(struct.pack("<I", DSTACK_EVENT_TYPE) + b":" + event.encode() + b":" + payload).digest()


def check_event_log(events: Sequence[dict[str, Any]], rtmrs: tuple[bytes, bytes, bytes, bytes]) -> dict[str, bytes]:
    """Replays to ``rtmrs`` (the quote's); returns the verified RTMR3 events by name (``app-id``, ``compose-hash``)."""
    replayed = replay(events)
    for index, (got, want) in enumerate(zip(replayed, rtmrs, strict=True)):
        if got != want:
            raise VerificationFailed(
                "event_log", f"replay gives RTMR{index} {got.hex()[:16]}…, the quote says {want.hex()[:16]}…"
            )
    named: dict[str, bytes] = {}
    booted = ready = False
    for event in events:
        if int(event["imr"]) != 3 or int(event.get("event_type", 0)) != DSTACK_EVENT_TYPE:
            continue
        name, payload = event["event"], bytes.fromhex(event.get("event_payload", ""))
        if dstack_digest(name, payload) != bytes.fromhex(event["digest"]):
            raise VerificationFailed("event_log", f"RTMR3 event {name!r} does not match its digest")
        booted, ready = booted or name == "boot-mr-done", ready or name == "system-ready"
        if name in RELIED_ON:
            # a late or second one could only come from code running after the measured boot
            if name in named or ready or (booted and name in BOOT_EVENTS):
                raise VerificationFailed("event_log", f"RTMR3 {name!r} event after boot or repeated")
            named[name] = payload
    return named
