"""``tellerhal decode mrz``: the fields and check digits of a machine-readable zone.

The INPUTs together are ONE MRZ: its 2 or 3 lines as arguments (quote them: ``<`` is a
shell redirection), or ``@FILE`` holding them one per line (``@-``: standard input).
ICAO 9303 TD1 (3x30), TD2 (2x36), TD3 (2x44), MRV visas and the China travel permit's
3x30 layout (`protocols.mrz`). One JSON object: the format, the fields, each check digit
(found, expected, ok) and ``valid``.

Personal data is masked unless ``--reveal``: names and numbers keep a first and last
character or two (`hal.devices.id_scanner_model.mask_name` / `mask_number`); the birth
date, the optional data and the lines themselves are hidden.

An MRZ that is malformed (line count, length, a character outside A-Z 0-9 ``<``) prints
one stderr line and exits 2; one whose check digits fail prints its object, then one
stderr line naming the failed fields, and exits 2 too.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from hal.devices.id_scanner_model import mask_name, mask_number
from protocols import mrz
from protocols.errors import ProtocolError
from tellerhal.cli.decode.fields import Entry, Failure

__all__ = ["decode_mrz"]


def _hidden(text: str) -> str:
    return f"<{len(text)} characters hidden>" if text else ""


def decode_mrz(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry for the MRZ whose lines ``capture`` holds (text, one line per line).

    Raises:
        Failure: the MRZ is malformed (before any entry) or a check digit fails (after
            its entry).
    """
    reveal = bool(getattr(args, "reveal", False))
    text = capture.decode("utf-8", "replace")
    try:
        parsed = mrz.parse(text)
    except ProtocolError as error:
        raise Failure(f"not an MRZ: {error.message}") from error
    birth = parsed.birth_date
    fields: Entry = {
        "document_code": parsed.document_code,
        "issuer": parsed.issuer,
        "primary_identifier": _name(parsed.primary_identifier, reveal),
        "secondary_identifier": _name(parsed.secondary_identifier, reveal),
        "document_number": parsed.document_number
        if reveal
        else mask_number(parsed.document_number),
        "nationality": parsed.nationality,
        "birth_date": (parsed.birth_date_text if reveal else _hidden(parsed.birth_date_text)),
        "birth_date_parsed": (birth.isoformat() if reveal else "<hidden>") if birth else None,
        "sex": parsed.sex,
        "expiry": parsed.expiry_text,
        "expiry_parsed": parsed.expiry.isoformat() if parsed.expiry else None,
        "optional_data": parsed.optional_data if reveal else _hidden(parsed.optional_data),
        "optional_data_2": parsed.optional_data_2 if reveal else _hidden(parsed.optional_data_2),
    }
    entry: Entry = {
        "kind": "mrz",
        "format": parsed.format.value,
        "fields": fields,
        "checks": [
            {
                "field": check.field,
                "found": check.found,
                "expected": check.expected,
                "ok": check.ok,
                **({"detail": check.detail} if check.detail else {}),
            }
            for check in parsed.checks
        ],
        "valid": parsed.valid,
    }
    if reveal:
        entry["lines"] = list(parsed.lines)
    yield entry
    if not parsed.valid:
        failed = ", ".join(check.field for check in parsed.failed())
        raise Failure(f"MRZ check digits failed: {failed}")


def _name(name: str, reveal: bool) -> str:
    if reveal:
        return name
    return " ".join(mask_name(part) for part in name.split())
