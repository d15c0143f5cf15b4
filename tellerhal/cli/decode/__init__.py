"""``tellerhal decode``: turn captured bytes into JSON lines, masking cardholder data.

For vendors and support staff reading a capture (from ``spy+`` or a serial sniffer).
Each INPUT is one capture; every frame, control byte, track or object in it becomes one
JSON object on stdout. The first bad checksum, truncation or unknown code stops the run
after what was decoded so far, with one line on stderr and exit status 2.

This module is the command line and the single-item protocols (tracks, TLV, APDU);
``crt310`` dissects the CRT-310 stream and ``fields`` renders (and masks) the tracks,
TLV and APDUs every protocol may carry. A new protocol is a module beside them.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from protocols import apdu as apdu_codec
from protocols import tlv
from protocols.errors import ProtocolError
from tellerhal.cli.decode.cn_id import decode_cn_id
from tellerhal.cli.decode.crt310 import decode_crt310
from tellerhal.cli.decode.crt591 import decode_crt591
from tellerhal.cli.decode.escpos import decode_escpos
from tellerhal.cli.decode.fields import (
    EXIT_INPUT,
    Entry,
    Failure,
    command_apdu_fields,
    response_apdu_fields,
    tlv_nodes,
    track_fields,
)
from tellerhal.cli.decode.id003 import decode_id003
from tellerhal.cli.decode.lcdm import MODELS, decode_lcdm
from tellerhal.cli.decode.mrz import decode_mrz
from tellerhal.cli.decode.samv import decode_samv
from tellerhal.cli.decode.ssp import decode_ssp
from tellerhal.cli.decode.zt588 import decode_zt588

__all__ = ["PROTOCOLS", "register", "run"]

PROTOCOLS = (
    "crt310",
    "crt591",
    "zt588",
    "lcdm",
    "id003",
    "ssp",
    "samv",
    "cn-id",
    "mrz",
    "escpos",
    "track1",
    "track2",
    "track3",
    "tlv",
    "apdu",
)

DESCRIPTION = """\
Decode captured bytes of a teller-machine protocol into JSON lines (one object per frame,
control byte, track or TLV object).

INPUT is one capture per argument:
  hex digits, optionally separated by spaces or colons ("02 00 02 31 30 03 02"), or
  @FILE: a text file with one capture per line (blank lines and lines starting with #
  are skipped); @- reads standard input the same way.
For track1/track2/track3 a capture is the track text as the reader returns it, with or
without sentinels and LRC (quote it for the shell: ';4111111111111111=2512101?'), or hex
of those characters with --hex.

Protocols:
  crt310  Creator CRT-310 byte stream: frames and control bytes (ACK/NAK/ENQ/EOT).
          Commands and replies share one layout and cannot always be told apart from
          the bytes alone: frames decode as host commands unless --direction reply (or
          --from-device) is given. Decode the two directions of a conversation as
          separate captures. A reply 33 30 / 33 31 decodes as IC power (it could also
          be the baud-rate echo for 1200 / 2400 bps).
  crt591  Creator CRT-591 card issuer byte stream: frames and control bytes (ACK/NAK/EOT).
          A frame's head says its direction ('C' command, 'P'/'N'/'E' reply).
  zt588   Zhengtong ZT588 PIN pad byte stream: frames and key presses. Frames decode as
          host commands unless --direction reply / --from-device (key presses come only
          from the pad); a capture may also be a line of a spy+ trace, which gives its
          own direction, and replies are read against the last command of the run.
          Keys, PIN blocks and authentication data are hidden and PANs masked.
  lcdm    Puloon LCDM-1000/2000/4000 cash dispenser byte stream: frames and control
          bytes (ACK/NAK); EOT frames are commands, SOH frames replies. --model picks
          the layouts (default: ID 30h as LCDM-4000, ID 50h as LCDM-1000; give
          --model 2000 for an LCDM-2000). Nothing to mask in cash frames.
  id003   JCM ID-003 bill validator frames: host commands, or with --from-device its answers.
  ssp     ITL SSP/eSSP byte stream (NV200, NV11): frames as commands or replies (generic
          reply codes F0..FA, else the echoed sequence flag); POLL events and the setup
          request's channels read against the last command. Encrypted frames show as
          encrypted (decrypted with --key-file); the key exchange's numbers are hidden
          unless --reveal.
  samv    SAM_V China ID card reader byte stream, both directions (a reply's SW1 is 00,
          a command's CMD never is); replies read against the last command, or by
          size: the text block decoded, photo and fingerprints as sizes only. Names and
          numbers masked, address and birth date hidden unless --reveal.
  cn-id   China ID numbers (GB 11643 MOD 11-2), one per INPUT as text: valid or not and
          why; number and birth date masked unless --reveal; an invalid one exits 2.
  mrz     A machine-readable zone (ICAO 9303 TD1/TD2/TD3, visas, the China permit's
          3x30): all INPUTs are the lines of ONE MRZ (quote them: '<'), or @FILE with
          its lines. Fields and check digits; names and numbers masked, birth date,
          optional data and lines hidden unless --reveal; malformed or a failed check
          digit exits 2.
  escpos  An ESC/POS receipt or journal printer stream: one object per operation (styled
          text, line feed, feed, cut, barcode, QR code, image, status request, code
          page; unknown commands with their bytes). Luhn-valid card numbers masked.
  track1, track2, track3  ISO/IEC 7811/7813 magnetic tracks (LRC checked when present).
  tlv     EMV BER-TLV objects, nested objects decoded recursively.
  apdu    ISO/IEC 7816-4 command APDU; with --response a response APDU (data SW1 SW2),
          whose data is shown as TLV when it parses as TLV.

Cardholder data is masked unless --reveal: PANs keep their first 6 and last 4 digits;
names, discretionary data, track-equivalent and PIN tags, PIN commands (VERIFY), memory
card and Mifare data, and response data that is not TLV are hidden.
"""

EPILOG = """\
exit status: 0 all decoded; 1 unreadable input (not hex, missing @FILE);
2 protocol error (bad checksum, truncation, unknown code, malformed data), reported on
one stderr line after the objects decoded before it.

example:
  tellerhal decode crt310 "06 02 00 02 31 30 03 02"
  tellerhal decode --from-device crt310 @capture.hex
  tellerhal decode crt591 "F2 00 00 03 43 31 30 03 B0 06"
  tellerhal decode zt588 "02 30 30 31 33 03 30 31"
  tellerhal decode lcdm "04 50 02 45 31 30 03 11 06"
  tellerhal decode track2 ';4111111111111111=25121010000000000000?8'
  tellerhal decode samv "AA AA AA 96 69 00 03 20 01 22 AA AA AA 96 69 00 04 00 00 80 84"
  tellerhal decode cn-id 11010519491231002X
  tellerhal decode mrz 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<' \
      'L898902C36UTO7408122F1204159ZE184226B<<<<<10'
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``decode`` sub-command to the ``tellerhal`` parser."""
    parser = sub.add_parser(
        "decode",
        help="decode captured protocol bytes into JSON lines",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "protocol", metavar="PROTOCOL", choices=PROTOCOLS, help=", ".join(PROTOCOLS)
    )
    parser.add_argument("inputs", metavar="INPUT", nargs="+", help="hex capture or @FILE")
    parser.add_argument(
        "--direction",
        choices=("command", "reply"),
        default="command",
        help="crt310, zt588: decode frames as host commands (default) or device replies",
    )
    parser.add_argument(
        "--from-device",
        dest="direction",
        action="store_const",
        const="reply",
        help="crt310, zt588: same as --direction reply",
    )
    parser.add_argument(
        "--response", action="store_true", help="apdu: decode response APDUs (data SW1 SW2)"
    )
    parser.add_argument(
        "--model", choices=MODELS, help="lcdm: the dispenser model (default: from the ID)"
    )
    parser.add_argument("--hex", action="store_true", help="track1/2/3: INPUT is hex")
    parser.add_argument(
        "--key-file",
        metavar="PATH",
        help="ssp: a file holding the eSSP session key (32 hex digits) to decrypt encrypted "
        "frames; the key is never printed",
    )
    parser.add_argument(
        "--reveal", action="store_true", help="show PANs, names and other secrets in full"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Decode every capture; return the exit status."""
    protocol: str = args.protocol
    # zt588 reads its captures itself: hex, or spy+ trace lines.
    text = (protocol.startswith("track") and not args.hex) or protocol in ("zt588", "cn-id", "mrz")
    try:
        captures = _read_captures(args.inputs, text=text)
    except Failure as failure:
        print(f"tellerhal decode: {protocol}: {failure}", file=sys.stderr)
        return failure.status
    if protocol == "mrz":  # the INPUTs are the lines of one MRZ
        captures = [b"\n".join(captures)]
    decode = DECODERS[protocol]
    for number, capture in enumerate(captures, start=1):
        where = f"capture {number}: " if len(captures) > 1 else ""
        try:
            for entry in decode(capture, args):
                head: Entry = {"protocol": protocol}
                if len(captures) > 1:
                    head["capture"] = number
                print(json.dumps({**head, **entry}), flush=True)
        except Failure as failure:
            print(f"tellerhal decode: {protocol}: {where}{failure}", file=sys.stderr)
            return failure.status
    return 0


# ----------------------------------------------------------------------------- input


def _read_captures(inputs: list[str], *, text: bool) -> list[bytes]:
    captures: list[bytes] = []
    for argument in inputs:
        if argument.startswith("@"):
            name = argument[1:]
            try:
                content = sys.stdin.read() if name == "-" else Path(name).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise Failure(f"cannot read {name}: {exc}", EXIT_INPUT) from exc
            lines = [line.strip() for line in content.splitlines()]
            captures += [_capture(line, text) for line in lines if line and line[0] != "#"]
        else:
            captures.append(_capture(argument, text))
    return captures


def _capture(value: str, text: bool) -> bytes:
    if text:
        return value.encode("utf-8", "surrogateescape")
    digits = "".join(value.replace(":", " ").split())
    try:
        return bytes.fromhex(digits)
    except ValueError as exc:
        # Name the problem, not the input: a mistyped capture may still hold a PAN.
        bad = next((i for i, c in enumerate(digits) if c not in string.hexdigits), None)
        problem = f"non-hex character at digit {bad}" if bad is not None else "odd digit count"
        raise Failure(f"input is not hex: {problem}", EXIT_INPUT) from exc


# ----------------------------------------------------------------------------- others


def _decode_track(track: int) -> Callable[[bytes, argparse.Namespace], Iterator[Entry]]:
    def decode(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
        try:
            fields = track_fields(track, capture, args.reveal)
        except ProtocolError as exc:
            raise Failure(str(exc)) from exc
        yield {"kind": "track", "fields": fields}

    return decode


def _decode_tlv(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    try:
        items = tlv.parse(capture)
    except ProtocolError as exc:
        raise Failure(str(exc)) from exc
    for number, item in enumerate(items, start=1):
        try:
            (node,) = tlv_nodes((item,), args.reveal)
        except ProtocolError as exc:
            raise Failure(f"object {number} (tag {item.tag:X}): {exc}") from exc
        yield {"kind": "tlv", "fields": node}


def _decode_apdu(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    try:
        if args.response:
            fields = response_apdu_fields(apdu_codec.parse_response(capture), args.reveal)
            yield {"kind": "response", "fields": fields}
        else:
            fields = command_apdu_fields(apdu_codec.parse_command(capture), args.reveal)
            yield {"kind": "command", "fields": fields}
    except ProtocolError as exc:
        raise Failure(str(exc)) from exc


DECODERS: dict[str, Callable[[bytes, argparse.Namespace], Iterator[Entry]]] = {
    "crt310": decode_crt310,
    "crt591": decode_crt591,
    "zt588": decode_zt588,
    "lcdm": decode_lcdm,
    "id003": decode_id003,
    "ssp": decode_ssp,
    "samv": decode_samv,
    "cn-id": decode_cn_id,
    "mrz": decode_mrz,
    "escpos": decode_escpos,
    "track1": _decode_track(1),
    "track2": _decode_track(2),
    "track3": _decode_track(3),
    "tlv": _decode_tlv,
    "apdu": _decode_apdu,
}
