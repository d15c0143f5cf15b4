"""Benchmark of the CRT-310 codec hot path against a hand-written baseline, same run.

Run from the repository root:  python bench/bench_codecs.py [--number N] [--repeat R]

Measures, per frame, for a status reply (10 bytes) and a track reply with 40 DATA bytes
(47 bytes): ``parse_frame`` and ``build_frame`` against a ``struct`` + XOR baseline
written here, plus the compiled construct layout (``crt310.FRAME``) for comparison;
then the stream decoder's throughput against the wire time of the same bytes at
9600 bps 8N1. Each figure is the best of R repeats of N calls (``time.perf_counter``).
The goal is ours/baseline <= 4x.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import struct
import sys
from collections.abc import Callable
from functools import reduce
from operator import xor
from pathlib import Path
from time import perf_counter
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import construct

from protocols import crt310

GOAL = 4.0
WIRE_BPS = 9600
BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop

_HEADER = struct.Struct(">BHBB")


def baseline_parse(raw: bytes) -> tuple[int, int, bytes]:
    """Hand-written frame parse: header with struct, ETX/LEN checks, XOR BCC."""
    stx, length, cm, pm = _HEADER.unpack_from(raw)
    if stx != 0x02 or length + 5 != len(raw) or raw[-2] != 0x03:
        raise ValueError("bad frame")
    if reduce(xor, raw[:-1], 0) != raw[-1]:
        raise ValueError("bad BCC")
    return cm, pm, raw[5:-2]


def baseline_build(cm: int, pm: int, data: bytes) -> bytes:
    """Hand-written frame build: struct header, data, ETX, XOR BCC."""
    body = _HEADER.pack(0x02, len(data) + 2, cm, pm) + data + b"\x03"
    return body + bytes((reduce(xor, body, 0),))


def construct_parse(raw: bytes) -> crt310.Frame:
    """The compiled construct layout, with the BCC checked separately."""
    parsed = crt310.FRAME.parse(raw)
    if reduce(xor, raw[:-1], 0) != parsed.bcc:
        raise ValueError("bad BCC")
    return crt310.Frame(parsed.cm, parsed.pm, parsed.data)


def construct_build(cm: int, pm: int, data: bytes) -> bytes:
    """The compiled construct layout; the BCC is computed first from the same bytes."""
    body = _HEADER.pack(0x02, len(data) + 2, cm, pm) + data + b"\x03"
    return bytes(
        crt310.FRAME.build({"cm": cm, "pm": pm, "data": data, "bcc": reduce(xor, body, 0)})
    )


def best_us(call: Callable[[], Any], number: int, repeat: int) -> float:
    """Best time of ``repeat`` runs of ``number`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = perf_counter()
        for _ in range(number):
            call()
        best = min(best, perf_counter() - start)
    return best / number * 1e6


def sample_frames() -> dict[str, tuple[int, int, bytes]]:
    """The frames measured: (CM, PM, DATA)."""
    status = crt310.parse_frame(
        crt310.build_status_reply(
            crt310.CardPosition.NO_CARD, crt310.FrontEntry.SWITCH, crt310.RearEntry.ALLOWED
        )
    )
    track = crt310.TrackRecord(2, crt310.TrackStatus.OK, b"4111111111111111=2512101000000000000")
    reply = crt310.parse_frame(crt310.build_track_reply([track]))
    assert len(reply.data) == 40, len(reply.data)
    return {
        "status reply (10 B)": (status.cm, status.pm, status.data),
        "track reply (47 B)": (reply.cm, reply.pm, reply.data),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=20000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats (the best counts)")
    args = parser.parse_args(argv)
    number, repeat = args.number, args.repeat

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(
        f"python {platform.python_version()} ({platform.machine()}), "
        f"construct {'.'.join(map(str, construct.version))}; best of {repeat} x {number} calls"
    )
    print()
    header = f"{'operation':<34}{'frame':<22}{'us/op':>8}{'baseline':>10}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name, (cm, pm, data) in sample_frames().items():
        worst = max(worst, measure_frame(name, cm, pm, data, number, repeat))
    print()
    verdict = "met" if worst <= GOAL else "NOT met"
    print(f"hot path (parse_frame, build_frame) worst ratio {worst:.1f}x: goal <= 4x {verdict}")
    print()
    decoder_throughput(repeat)
    return 0


def measure_frame(name: str, cm: int, pm: int, data: bytes, number: int, repeat: int) -> float:
    """Print the rows for one frame; return the worst hot-path ratio."""
    raw = crt310.build_frame(cm, pm, data)
    assert baseline_parse(raw) == (cm, pm, data)
    assert construct_parse(raw) == crt310.parse_frame(raw)
    assert baseline_build(cm, pm, data) == raw == construct_build(cm, pm, data)
    base_parse = best_us(lambda: baseline_parse(raw), number, repeat)
    base_build = best_us(lambda: baseline_build(cm, pm, data), number, repeat)
    rows: list[tuple[str, Callable[[], Any], float, bool]] = [
        ("parse_frame", lambda: crt310.parse_frame(raw), base_parse, True),
        ("build_frame", lambda: crt310.build_frame(cm, pm, data), base_build, True),
        ("construct FRAME parse (+BCC)", lambda: construct_parse(raw), base_parse, False),
        ("construct FRAME build", lambda: construct_build(cm, pm, data), base_build, False),
    ]
    worst = 0.0
    for label, call, base, hot in rows:
        ours = best_us(call, number, repeat)
        if hot:
            worst = max(worst, ours / base)
        print(f"{label:<34}{name:<22}{ours:>8.2f}{base:>10.2f}{ours / base:>7.1f}x")
    return worst


def decoder_throughput(repeat: int) -> None:
    """Frames per second through the stream decoder, fed in 64-byte reads."""
    frames = [crt310.build_frame(*frame) for frame in sample_frames().values()]
    unit = b"\x06" + frames[0] + b"\x06" + frames[1]
    count = 2000
    stream = unit * (count // 2)
    chunks = [stream[i : i + 64] for i in range(0, len(stream), 64)]
    best = float("inf")
    for _ in range(repeat):
        decoder = crt310.Crt310StreamDecoder()
        start = perf_counter()
        decoded = 0
        for chunk in chunks:
            decoded += sum(isinstance(item, crt310.Frame) for item in decoder.feed(chunk))
        best = min(best, perf_counter() - start)
        assert decoded == count, decoded
    per_second = count / best
    wire_bytes_per_second = WIRE_BPS / BITS_PER_BYTE
    wire_frames = wire_bytes_per_second / (len(stream) / count)
    print(f"stream decoder: {count} frames + {count} ACKs, {len(stream)} bytes in 64-byte reads")
    print(f"  decoder   {per_second:>12,.0f} frames/s  ({best / count * 1e6:.2f} us/frame)")
    print(f"  wire 9600 {wire_frames:>12,.1f} frames/s  (8N1, {wire_bytes_per_second:.0f} B/s)")
    print(f"  the decoder keeps up with {per_second / wire_frames:,.0f} such lines")


if __name__ == "__main__":
    sys.exit(main())
