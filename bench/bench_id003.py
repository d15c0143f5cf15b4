"""Benchmark of the JCM ID-003 codec: frames decoded per second, ours vs a plain
``struct`` baseline decoding the same frames, same run.

Run from the repository root:  python bench/bench_id003.py [--frames N] [--repeat R]

The frames are a validator's typical answers over one deposit (DISABLED, IDLING,
ACCEPTING, ESCROW 61, STACKING, VEND VALID, STACKED, REJECTING 71, an ACK and an
inhibit echo), repeated to N frames. Measured, best of R runs:

- ``parse_frame + parse_reply``: our hot path, one whole frame at a time, checked (CRC,
  LNG) and read into a typed message (`protocols.id003_messages.Status`...);
- ``stream decoder + parse_reply``: the bytes of all frames in 64-byte reads, cut by
  `protocols.id003.Id003StreamDecoder`, each frame read as above (what the driver does);
- ``construct FRAME + CRC``: the construct layout (`protocols.id003.FRAME`), CRC checked
  separately, no typed message;
- baseline: ``struct.unpack_from`` of SYNC/LNG/CMD, a slice for DATA, the same CRC
  (table-driven, written inline here) and a tuple (code, data) - no typed message.

Each line prints frames/s and the ratio baseline/ours (how many times slower ours is).
"""

from __future__ import annotations

import argparse
import platform
import shlex
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import construct

from protocols.id003 import FRAME, Frame, Id003StreamDecoder, build_frame, parse_frame
from protocols.id003_messages import parse_reply

_HEAD = struct.Struct("<BBB")


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC = _table()


def baseline(raw: bytes) -> tuple[int, bytes]:
    """Plain struct decoding of one frame: header, length, CRC, (code, data)."""
    sync, length, code = _HEAD.unpack_from(raw)
    if sync != 0xFC or length != len(raw) or length < 5:
        raise ValueError("bad frame")
    crc = 0
    for byte in raw[:-2]:
        crc = (crc >> 8) ^ _CRC[(crc ^ byte) & 0xFF]
    if crc != raw[-2] | raw[-1] << 8:
        raise ValueError("bad CRC")
    return code, raw[3:-2]


def ours(raw: bytes) -> object:
    return parse_reply(parse_frame(raw))


def via_construct(raw: bytes) -> tuple[int, bytes]:
    parsed = FRAME.parse(raw)
    crc = 0
    for byte in raw[:-2]:
        crc = (crc >> 8) ^ _CRC[(crc ^ byte) & 0xFF]
    if crc != parsed.crc:
        raise ValueError("bad CRC")
    return parsed.code, parsed.data


SAMPLE = [
    (0x1A, b""),
    (0x11, b""),
    (0x12, b""),
    (0x13, b"\x61"),
    (0x14, b""),
    (0x15, b""),
    (0x16, b""),
    (0x17, b"\x71"),
    (0x50, b""),
    (0xC3, b"\x01"),
]


def best_seconds(run: Callable[[], int], count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = perf_counter()
        decoded = run()
        best = min(best, perf_counter() - start)
        assert decoded == count, (decoded, count)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=20000, help="frames per run")
    parser.add_argument("--repeat", type=int, default=7, help="runs (the best counts)")
    args = parser.parse_args(argv)
    frames = [build_frame(code, data) for code, data in SAMPLE]
    frames = (frames * (args.frames // len(frames) + 1))[: args.frames]
    count = len(frames)
    for raw in frames:  # the three agree before anything is timed
        assert baseline(raw) == (parse_frame(raw).code, parse_frame(raw).data)
        assert via_construct(raw) == baseline(raw)
    stream = b"".join(frames)
    chunks = [stream[i : i + 64] for i in range(0, len(stream), 64)]

    def run_baseline() -> int:
        return sum(1 for raw in frames if baseline(raw))

    def run_ours() -> int:
        return sum(1 for raw in frames if ours(raw) is not None)

    def run_construct() -> int:
        return sum(1 for raw in frames if via_construct(raw))

    def run_stream() -> int:
        decoder = Id003StreamDecoder()
        done = 0
        for chunk in chunks:
            for item in decoder.feed(chunk):
                assert isinstance(item, Frame)
                parse_reply(item)
                done += 1
        return done

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(
        f"python {platform.python_version()} ({platform.machine()}), "
        f"construct {'.'.join(map(str, construct.version))}; {count} frames "
        f"({len(stream)} bytes), best of {args.repeat} runs"
    )
    base = best_seconds(run_baseline, count, args.repeat)
    print()
    print(f"{'decoder':<34}{'frames/s':>12}{'us/frame':>10}{'vs struct':>11}")
    print(f"{'struct baseline':<34}{count / base:>12,.0f}{base / count * 1e6:>10.2f}{'1.0x':>11}")
    for label, run in (
        ("parse_frame + parse_reply", run_ours),
        ("stream decoder + parse_reply", run_stream),
        ("construct FRAME + CRC", run_construct),
    ):
        took = best_seconds(run, count, args.repeat)
        ratio = took / base
        print(f"{label:<34}{count / took:>12,.0f}{took / count * 1e6:>10.2f}{ratio:>10.1f}x")
    wire = 9600 / 11 / (len(stream) / count)  # 8E1: 11 bits a byte
    print()
    print(f"a 9600 bps 8E1 line carries {wire:,.0f} such frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
