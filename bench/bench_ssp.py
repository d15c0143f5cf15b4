"""ITL SSP: frames decoded per second against a plain ``struct`` baseline, and an eSSP
encrypted POLL round trip over a pty against its wire time at 9600 baud.

Run: ``python bench/bench_ssp.py [--polls N]``

1. Decoding: ``protocols.ssp.parse_frame`` and the stream decoder on three frames (the
   golden SYNC, a POLL reply with five events, an encrypted 33-byte packet) against a
   hand-written baseline (``struct`` header, ``bytes.replace`` unstuffing, the same CRC
   table), and the construct layout (``ssp.FRAME``, CRC not checked). Ratio = ours over
   the baseline (time per frame).
2. Round trip: the real `SspLink` negotiates a key with the `SspEmulator` on a
   `PtyBridge` (paced like a UART at 9600 baud, 10 bits a byte) and sends encrypted
   POLLs; wire time = the bytes both ways x 10 / 9600; ratio = elapsed over wire time.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivers.cash.ssp_link import SspLink
from hal.transports.serial import SerialOptions, SerialTransport
from protocols import ssp
from protocols.essp import DEFAULT_FIXED_KEY, SessionKey, encrypt_packet
from protocols.ssp_events import Ev, Event, encode_events
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.wire.pty import PtyBridge
from simulator.wire.ssp import SspEmulator
from simulator.wire.ssp_firmware import SspFirmware

_HEAD = struct.Struct("<BBB")


def baseline_parse(raw: bytes) -> tuple[int, bytes]:
    """Hand-written: unstuff, struct header, length and CRC checks."""
    body = raw[:1] + raw[1:].replace(b"\x7f\x7f", b"\x7f")
    _, seq_id, length = _HEAD.unpack_from(body)
    if len(body) != length + 5:
        raise ValueError("length")
    (crc,) = struct.unpack_from("<H", body, 3 + length)
    if ssp.crc16(body[1 : 3 + length]) != crc:
        raise ValueError("crc")
    return seq_id, body[3 : 3 + length]


def best_us(call: Callable[[], Any], number: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, time.perf_counter() - start)
    return best / number * 1e6


def decoding(number: int) -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, 0x1234)
    events = encode_events(
        [
            Event(Ev.READ, 3),
            Event(Ev.CREDIT, 3),
            Event(Ev.STACKING, 3),
            Event(Ev.STACKED),
            Event(Ev.DISABLED),
        ]
    )
    samples = {
        "sync (golden #28)": bytes.fromhex("7F 80 01 11 65 82"),
        "poll reply, 5 events": ssp.build_frame(False, 0, b"\xf0" + events),
        "encrypted (7E + 32)": ssp.build_frame(True, 0, encrypt_packet(key, 9, bytes(20))),
    }
    print(f"decoding, best of 5 x {number} calls (us per frame; frames/s)")
    print(
        f"{'frame':24} {'bytes':>5} {'struct':>8} {'ours':>8} {'stream':>8} {'construct':>9} ratio"
    )
    for name, raw in samples.items():
        assert baseline_parse(raw)[1] == ssp.parse_frame(raw).data
        base = best_us(lambda raw=raw: baseline_parse(raw), number)
        ours = best_us(lambda raw=raw: ssp.parse_frame(raw), number)
        stream = best_us(lambda raw=raw: ssp.SspStreamDecoder().feed(raw), number)
        layout = best_us(lambda raw=raw: ssp.FRAME.parse(b"\x7f" + ssp.unstuff(raw[1:])), number)
        print(
            f"{name:24} {len(raw):5d} {base:8.2f} {ours:8.2f} {stream:8.2f} {layout:9.2f}"
            f" {ours / base:5.2f}  ({1e6 / ours:,.0f} frames/s)"
        )


async def round_trip(polls: int, baud: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        firmware = SspFirmware(CashAcceptorModel.from_profile("nv11", note_time=0))
        async with (
            PtyBridge("ssp", directory=tmp) as bridge,
            SspEmulator(firmware, bridge, baud=baud) as emulator,
        ):
            transport = SerialTransport(str(Path(tmp) / "ssp"), SerialOptions(baud=115200))
            link = SspLink(transport, reply_timeout=2.0, retries=0)
            await link.open()
            try:
                await link.sync()
                await link.negotiate(DEFAULT_FIXED_KEY)
                await link.command(b"\x07")
                before = emulator.stats.bytes_in + emulator.stats.bytes_out
                start = time.perf_counter()
                for _ in range(polls):
                    await link.command(b"\x07")
                elapsed = time.perf_counter() - start
                moved = emulator.stats.bytes_in + emulator.stats.bytes_out - before
            finally:
                await link.close()
    return elapsed, moved * 10 / baud, moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args(argv)
    decoding(args.number)
    elapsed, wire, moved = asyncio.run(round_trip(args.polls, 9600))
    print(
        f"\neSSP encrypted POLL round trip over a pty at 9600 baud, {args.polls} polls: "
        f"{moved / args.polls:.0f} bytes each, {elapsed / args.polls * 1e3:.1f} ms each, "
        f"wire {wire / args.polls * 1e3:.1f} ms, ratio {elapsed / wire:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
