"""Reading an EMV contact application through `hal.CardReader.chip_io`.

What a kiosk app does after powering the chip: find the applications (PSE directory,
EMV Book 1 §12.2), select one, GET PROCESSING OPTIONS, and read the records its AFL
names (EMV Book 3 §10.2). T=0 transport details (61xx GET RESPONSE, 6Cxx resend with
the right Le) are handled here, so the caller sees whole responses.

Only facts the app needs leave this module: the PAN (for the app to mask), the expiry
and the application's label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hal.devices.card_reader import CardReader
from hal.errors import InvalidMedia
from protocols import apdu, tlv
from protocols.errors import ProtocolError
from protocols.tracks import mask_pan

__all__ = ["EmvApplication", "EmvReadout", "read_application", "transmit"]

PSE = b"1PAY.SYS.DDF01"


@dataclass(frozen=True)
class EmvApplication:
    """An application listed in the card's directory."""

    aid: bytes
    label: str
    priority: int | None = None


@dataclass(frozen=True, repr=False)
class EmvReadout:
    """What was read from the chip.

    Attributes:
        applications: the directory's applications, in priority order.
        selected: the one selected and read.
        pan: the PAN from tag 5A (or the track-2 equivalent 57); secret.
        expiry: YYMMDD from 5F24.
        records: how many records were read.
        exchanges: how many APDUs were sent.
    """

    applications: tuple[EmvApplication, ...]
    selected: EmvApplication
    pan: str | None
    expiry: str | None
    records: int
    exchanges: int
    track2_equivalent_pan: str | None = field(default=None)

    def __repr__(self) -> str:
        pan = mask_pan(self.pan) if self.pan else None
        return f"EmvReadout(selected={self.selected.label!r}, pan={pan!r}, records={self.records})"


class _Exchange:
    def __init__(self, reader: CardReader, timeout: float | None) -> None:
        self.reader = reader
        self.timeout = timeout
        self.count = 0

    async def __call__(self, command: apdu.CommandApdu) -> apdu.ResponseApdu:
        return await transmit(self.reader, command, timeout=self.timeout, counter=self)


async def transmit(
    reader: CardReader,
    command: apdu.CommandApdu,
    *,
    timeout: float | None = None,
    counter: _Exchange | None = None,
) -> apdu.ResponseApdu:
    """Send ``command`` and return the whole response, following T=0 61xx and 6Cxx."""
    raw = command.to_bytes()
    data = b""
    for _ in range(16):  # a card answering 61xx for ever is broken, not patient
        if counter is not None:
            counter.count += 1
        response = apdu.parse_response(await reader.chip_io(raw, timeout=timeout))
        if response.sw1 == 0x61:
            data += response.data
            raw = apdu.get_response(response.sw2 or 256).to_bytes()
            continue
        if response.sw1 == 0x6C:
            raw = apdu.CommandApdu(
                command.cla, command.ins, command.p1, command.p2, command.data, response.sw2 or 256
            ).to_bytes()
            continue
        return apdu.ResponseApdu(data + response.data, response.sw1, response.sw2)
    raise InvalidMedia("the chip kept asking for GET RESPONSE after 16 exchanges")


def _require_ok(response: apdu.ResponseApdu, what: str) -> tuple[tlv.Tlv, ...]:
    if not response.ok:
        raise InvalidMedia(f"{what}: the chip answered {response.sw:04X} ({response.description})")
    try:
        return tlv.parse(response.data)
    except ProtocolError as exc:
        raise InvalidMedia(f"{what}: the chip's answer is not BER-TLV: {exc}") from exc


def _text(item: tlv.Tlv | None) -> str:
    return item.value.decode("ascii", "replace").strip() if item is not None else ""


async def _directory(exchange: _Exchange) -> list[EmvApplication]:
    fci = _require_ok(await exchange(apdu.select_by_name(PSE)), "SELECT PSE")
    sfi_tag = tlv.find(fci, 0x88)
    if sfi_tag is None or len(sfi_tag.value) != 1:
        raise InvalidMedia("SELECT PSE: the FCI names no directory SFI (tag 88)")
    sfi = sfi_tag.value[0]
    found: list[EmvApplication] = []
    for record in range(1, 17):
        response = await exchange(apdu.read_record(record, sfi))
        if response.sw == 0x6A83:  # record not found: end of the directory
            break
        for template in tlv.find_all(_require_ok(response, "READ RECORD (directory)"), 0x61):
            children = template.children()
            aid = tlv.find(children, 0x4F)
            if aid is None:
                continue
            priority = tlv.find(children, 0x87)
            found.append(
                EmvApplication(
                    aid=aid.value,
                    label=_text(tlv.find(children, 0x50)),
                    priority=(priority.value[0] & 0x0F) if priority and priority.value else None,
                )
            )
    return sorted(found, key=lambda a: (a.priority is None, a.priority or 0))


def _pdol_data(fci: tuple[tlv.Tlv, ...]) -> bytes:
    """Zero-filled data for the card's PDOL (a kiosk with no terminal data to offer)."""
    pdol = tlv.find(fci, 0x9F38)
    if pdol is None:
        return b""
    total, pos, value = 0, 0, pdol.value
    while pos < len(value):
        # A tag is 1 byte, or more if the low five bits are all set; then a 1-byte length.
        end = pos + 1
        if value[pos] & 0x1F == 0x1F:
            while end < len(value) and value[end] & 0x80:
                end += 1
            end += 1
        if end >= len(value):
            raise InvalidMedia("the card's PDOL is truncated")
        total += value[end]
        pos = end + 1
    return bytes(total)


async def read_application(reader: CardReader, *, timeout: float | None = None) -> EmvReadout:
    """Select the card's first application and read the records its AFL lists.

    The chip must be powered (`CardReader.chip_power`).

    Raises:
        InvalidMedia: the chip's answers do not follow EMV.
    """
    exchange = _Exchange(reader, timeout)
    applications = await _directory(exchange)
    if not applications:
        raise InvalidMedia("the card's directory lists no application")
    chosen = applications[0]
    fci = _require_ok(await exchange(apdu.select_by_name(chosen.aid)), "SELECT AID")
    gpo = _require_ok(
        await exchange(apdu.get_processing_options(_pdol_data(fci))), "GET PROCESSING OPTIONS"
    )
    afl = tlv.find(gpo, 0x94)
    if afl is None:  # format 1: 80 = AIP (2 bytes) + AFL
        fmt1 = tlv.find(gpo, 0x80)
        if fmt1 is None or len(fmt1.value) < 2:
            raise InvalidMedia("GET PROCESSING OPTIONS answered neither format 1 nor format 2")
        afl_bytes = fmt1.value[2:]
    else:
        afl_bytes = afl.value
    if len(afl_bytes) % 4:
        raise InvalidMedia(f"the AFL is {len(afl_bytes)} bytes, not a multiple of 4")
    items: list[tlv.Tlv] = []
    records = 0
    for i in range(0, len(afl_bytes), 4):
        sfi, first, last = afl_bytes[i] >> 3, afl_bytes[i + 1], afl_bytes[i + 2]
        for record in range(first, last + 1):
            found = _require_ok(await exchange(apdu.read_record(record, sfi)), "READ RECORD")
            items.extend(found)
            records += 1
    pan_tag = tlv.find(items, 0x5A)
    expiry = tlv.find(items, 0x5F24)
    track2 = tlv.find(items, 0x57)
    return EmvReadout(
        applications=tuple(applications),
        selected=chosen,
        pan=pan_tag.value.hex().upper().rstrip("F") if pan_tag else None,
        expiry=expiry.value.hex() if expiry else None,
        records=records,
        exchanges=exchange.count,
        track2_equivalent_pan=track2.value.hex().upper().split("D")[0] if track2 else None,
    )
