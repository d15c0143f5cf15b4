"""``tellerhal decode cn-id``: is a China ID number valid, and why not.

Each INPUT is a number as text (18 characters; a first-generation card's 15 digits are
read and reported not valid: they carry no check character). One JSON object per
number: ``valid``, the ``reason`` when not, the kind of number (resident, Hong Kong /
Macao / Taiwan permit, 2023 foreigner card), the check character expected and whether
it matches, the birth date (digits 7-14) and the sex (digit 17).

The number and the birth date are masked unless ``--reveal``
(`hal.devices.id_scanner_model.mask_number`); the reason never holds the number.

An invalid number prints its object, then one stderr line with the reason, and the run
stops with exit status 2 (as a bad checksum does for the frame decoders).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from hal.devices.id_scanner_model import mask_number
from protocols.cn_id import validate_id_number
from tellerhal.cli.decode.fields import Entry, Failure

__all__ = ["decode_cn_id"]


def decode_cn_id(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry for the number in ``capture`` (text).

    Raises:
        Failure: the number is not valid (after its entry).
    """
    reveal = bool(getattr(args, "reveal", False))
    number = capture.decode("utf-8", "replace").strip()
    result = validate_id_number(number)
    birth = result.birth_date
    entry: Entry = {
        "kind": "id_number",
        "number": number if reveal else mask_number(number),
        "valid": result.ok,
        "type": result.kind.value,
        "check_character": {"expected": result.expected_check, "ok": result.check_ok},
        "birth_date": (birth.isoformat() if reveal else "<hidden>") if birth else None,
        "sex": result.sex,
    }
    if not result.ok:
        entry["reason"] = result.reason
    yield entry
    if not result.ok:
        raise Failure(f"not a valid ID number: {result.reason}")
