"""What ``tellerhal serve`` and ``tellerhal sim`` share: where to listen, the ready file,
logging, and running until a signal says stop.

The **ready file** (``--ready-file F``) is one JSON object, written once everything is
up, atomically (a temporary file in the same directory, renamed over ``F``), so a
process polling for ``F`` never reads half of it::

    {"endpoint": "tcp://127.0.0.1:41234", "control": "tcp://127.0.0.1:41235",
     "devices": {"card_reader": "zmq://127.0.0.1:41234/card_reader"}, "pid": 4242}

``control`` is ``null`` for ``serve``. The file is removed when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "absolute_ipc",
    "add_common_options",
    "default_ipc_dir",
    "remove_ready_file",
    "setup_logging",
    "stop_signals",
    "write_ready_file",
]


def add_common_options(parser: Any) -> None:
    """``--ready-file``, ``--heartbeat`` and ``-v``."""
    parser.add_argument(
        "--ready-file",
        metavar="F",
        help="write a JSON file (endpoints, device addresses, pid) once everything is up",
    )
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between a client's heartbeats; a client silent for 3 is dropped "
        "and its commands cancelled (default 1)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log sessions and commands (INFO) to stderr"
    )


def setup_logging(program: str, verbose: bool) -> None:
    """Log to stderr, one line per record, prefixed with the program's name."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format=f"{program}: %(levelname)s %(name)s: %(message)s",
    )


def default_ipc_dir() -> Path:
    """The private directory ``serve`` puts its ``ipc://`` socket in.

    ``/run/tellerhal`` for root; else ``$XDG_RUNTIME_DIR/tellerhal`` when the session
    has a runtime directory; else ``tellerhal-UID`` in the temporary directory. The
    endpoint policy creates it with mode 0700, and refuses it if it exists with a wider
    mode or belongs to someone else (so another user cannot plant it).
    """
    if os.geteuid() == 0:
        return Path("/run/tellerhal")
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return Path(runtime) / "tellerhal"
    return Path(tempfile.gettempdir()) / f"tellerhal-{os.geteuid()}"


def absolute_ipc(endpoint: str) -> str:
    """``ipc://relative/path`` made absolute (an address needs the full path)."""
    scheme, sep, rest = endpoint.partition("://")
    if scheme == "ipc" and sep and rest and not rest.startswith(("/", "@")):
        return f"ipc://{Path(rest).absolute()}"
    return endpoint


def write_ready_file(
    path: str | os.PathLike[str],
    endpoint: str,
    devices: Mapping[str, str],
    control: str | None = None,
) -> None:
    """Write the ready file atomically (see the module's docstring).

    Raises:
        OSError: the directory is not writable.
    """
    target = Path(path)
    content = {
        "endpoint": endpoint,
        "control": control,
        "devices": dict(devices),
        "pid": os.getpid(),
    }
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(content, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_ready_file(path: str | os.PathLike[str]) -> None:
    """Remove our ready file (not one another process has written since)."""
    try:
        with open(path, encoding="utf-8") as f:
            pid = json.load(f).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if pid == os.getpid():
        with contextlib.suppress(OSError):
            os.unlink(path)


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Future[int]]:
    """Catch SIGINT and SIGTERM while in the block: the future gets the signal's number.

    Installed before the server starts, so a signal sent as soon as the ready file
    appears still stops it gracefully.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[int] = loop.create_future()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal(number: int) -> None:
        if not received.done():
            received.set_result(number)

    for number in signals:
        loop.add_signal_handler(number, on_signal, number)
    try:
        yield received
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        if not received.done():
            received.cancel()
