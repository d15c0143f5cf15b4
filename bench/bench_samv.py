"""Benchmark of the SAM_V codec: frames decoded per second, ours vs a plain ``struct`` +
XOR baseline decoding the same frames, same run.

Run from the repository root:  python bench/bench_samv.py [--frames N] [--repeat R]

The frames are what a host reads while a card is read: two no-card polls (SW3 80, 11
bytes), card found (9F + 4 bytes, 15), card selected (90 + 8 bytes, 19) and the base
message (30 01: text 256 + photo 1024, 1295 bytes), repeated to N frames; each kind is
also timed alone. Measured, best of R runs:

- ``parse_reply``: our hot path, one whole frame at a time, checked (preamble, LEN,
  XOR) and read into a `protocols.samv.ReplyFrame`;
- ``parse_reply + body``: the same, and the base message's body split
  (`parse_base_message`) where there is one;
- ``stream decoder``: the bytes of all frames in 64-byte reads, cut by
  `protocols.samv.SamvDecoder` (what the driver does);
- ``construct FRAME + XOR``: the construct layout (`protocols.samv.FRAME`), XOR checked
  with the codec's `xor`;
- baseline: ``struct.unpack_from`` of the preamble and LEN, a length check, the XOR by a
  byte loop (the obvious way) and a tuple (sw3, data); a second baseline folds the XOR
  with ``functools.reduce(operator.xor, ...)``.

Each line prints the best frames/s and the median over rounds of the ratio ours/baseline
timed back to back (how many times slower ours is; below 1: faster).
"""

from __future__ import annotations

import argparse
import functools
import operator
import platform
import shlex
import statistics
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import construct

from protocols.samv import (
    FRAME,
    PREAMBLE,
    BaseMessage,
    ReplyFrame,
    SamvDecoder,
    Sw3,
    build_reply,
    parse_base_message,
    parse_reply,
    xor,
)

_HEAD = struct.Struct(">5sH")


def baseline(raw: bytes) -> tuple[int, bytes]:
    """Plain struct decoding of one reply: preamble, LEN, XOR loop, (sw3, data)."""
    preamble, length = _HEAD.unpack_from(raw)
    if preamble != PREAMBLE or length != len(raw) - 7 or length < 4:
        raise ValueError("bad frame")
    chk = 0
    for byte in raw[5:-1]:
        chk ^= byte
    if chk != raw[-1]:
        raise ValueError("bad XOR")
    return raw[9], raw[10:-1]


def baseline_reduce(raw: bytes) -> tuple[int, bytes]:
    """The same with the XOR as ``functools.reduce(operator.xor, ...)``."""
    preamble, length = _HEAD.unpack_from(raw)
    if preamble != PREAMBLE or length != len(raw) - 7 or length < 4:
        raise ValueError("bad frame")
    if functools.reduce(operator.xor, raw[5:-1], 0) != raw[-1]:
        raise ValueError("bad XOR")
    return raw[9], raw[10:-1]


def with_body(raw: bytes) -> object:
    reply = parse_reply(raw)
    if len(reply.data) == 1284:
        return parse_base_message(reply.data, fingerprint=False)
    return reply


def via_construct(raw: bytes) -> tuple[int, bytes]:
    parsed = FRAME.parse(raw)
    if xor(raw[5:-1]) != parsed.chk[0]:
        raise ValueError("bad XOR")
    return parsed.body[2], parsed.body[3:]


def sample() -> dict[str, bytes]:
    text = bytes(range(256))  # the bench reads bytes, no text block is decoded
    photo = bytes((i * 7) & 0xFF for i in range(1024))
    return {
        "no card (11 B)": build_reply(Sw3.NO_CARD),
        "card found (15 B)": build_reply(Sw3.CARD_FOUND, bytes(4)),
        "selected (19 B)": build_reply(Sw3.SUCCESS, bytes(8)),
        "base message (1295 B)": build_reply(Sw3.SUCCESS, BaseMessage(text, photo).to_data()),
    }


def timed(run: Callable[[list[bytes]], int], frames: list[bytes]) -> float:
    start = perf_counter()
    decoded = run(frames)
    took = perf_counter() - start
    assert decoded == len(frames), (decoded, len(frames))
    return took


def paired(
    runs: list[Callable[[list[bytes]], int]], frames: list[bytes], repeat: int
) -> tuple[list[float], list[float]]:
    """Each run's best time, and its median ratio to the first (the baseline) over rounds
    in which all ran one after the other: on a busy machine the pairs see the same load
    where separate best-of runs may not."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for index, run in enumerate(runs):
            times[index].append(timed(run, frames))
    ratios = [
        statistics.median(t / b for t, b in zip(mine, times[0], strict=True)) for mine in times
    ]
    return [min(t) for t in times], ratios


def run_baseline(frames: list[bytes]) -> int:
    return sum(1 for raw in frames if baseline(raw))


def run_reduce(frames: list[bytes]) -> int:
    return sum(1 for raw in frames if baseline_reduce(raw))


def run_ours(frames: list[bytes]) -> int:
    return sum(1 for raw in frames if parse_reply(raw) is not None)


def run_body(frames: list[bytes]) -> int:
    return sum(1 for raw in frames if with_body(raw) is not None)


def run_construct(frames: list[bytes]) -> int:
    return sum(1 for raw in frames if via_construct(raw))


def run_stream(frames: list[bytes]) -> int:
    stream = b"".join(frames)
    decoder = SamvDecoder("reply")
    done = 0
    for start in range(0, len(stream), 64):
        for item in decoder.feed(stream[start : start + 64]):
            assert isinstance(item, ReplyFrame)
            done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=20000, help="frames per run")
    parser.add_argument("--repeat", type=int, default=7, help="runs (the best counts)")
    args = parser.parse_args(argv)
    kinds = sample()
    for raw in kinds.values():  # all decoders agree before anything is timed
        reply = parse_reply(raw)
        assert baseline(raw) == (reply.sw3, reply.data) == baseline_reduce(raw)
        assert via_construct(raw) == baseline(raw)
    order = ["no card (11 B)"] * 2 + ["card found (15 B)", "selected (19 B)"]
    order.append("base message (1295 B)")
    mix = [kinds[name] for name in order]
    mixed = (mix * (args.frames // len(mix) + 1))[: args.frames]
    size = sum(map(len, mixed))
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(
        f"python {platform.python_version()} ({platform.machine()}), "
        f"construct {'.'.join(map(str, construct.version))}; best of {args.repeat} runs"
    )
    runs = (
        ("parse_reply", run_ours),
        ("parse_reply + body", run_body),
        ("stream decoder (64-byte reads)", run_stream),
        ("construct FRAME + XOR", run_construct),
        ("struct + reduce(xor) baseline", run_reduce),
    )
    sets = [(f"mix of {len(mixed)} frames ({size} bytes; 4 short : 1 base)", mixed)]
    sets += [(name, [raw] * (args.frames // 4)) for name, raw in kinds.items()]
    for title, frames in sets:
        count = len(frames)
        best, ratios = paired([run_baseline] + [run for _, run in runs], frames, args.repeat)
        print()
        print(title)
        print(f"  {'decoder':<32}{'frames/s':>12}{'us/frame':>10}{'vs struct':>11}")
        base = best[0]
        label = "struct + XOR loop baseline"
        print(f"  {label:<32}{count / base:>12,.0f}{base / count * 1e6:>10.2f}")
        for (label, _), took, ratio in zip(runs, best[1:], ratios[1:], strict=True):
            print(f"  {label:<32}{count / took:>12,.0f}{took / count * 1e6:>10.2f}{ratio:>10.2f}x")
    wire = 115200 / 10 / (size / len(mixed))  # 8N1: 10 bits a byte
    print()
    print(f"a 115200 bps 8N1 line carries {wire:,.0f} frames/s of the mix")
    return 0


if __name__ == "__main__":
    sys.exit(main())
