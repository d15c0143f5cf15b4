"""``tellerhal keys generate DIR``: CurveZMQ certificates for ``tellerhal serve`` on TCP.

Writes, for each name (default: ``server`` and ``client``), ``NAME.key`` (the public
key) and ``NAME.key_secret`` (both keys, mode 0600) with `zmq.auth.create_certificates`,
in ``DIR`` (created with mode 0700). Every name but ``server`` also gets its public key
copied to ``DIR/clients/``, the directory ``serve --curve-clients`` reads. Existing
files are never overwritten.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

_PROGRAM = "tellerhal keys"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``keys`` sub-command."""
    parser = sub.add_parser(
        "keys",
        help="make CurveZMQ key pairs for serving over TCP",
        description="Make CurveZMQ certificates for tellerhal serve and its clients.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    generate = actions.add_parser(
        "generate",
        help="write NAME.key and NAME.key_secret for each name",
        description=(
            "Write NAME.key (public) and NAME.key_secret (secret, mode 0600) for each "
            "--name (default: server and client) in DIR (mode 0700). Client public keys "
            "are also copied to DIR/clients/ for serve --curve-clients."
        ),
    )
    generate.add_argument("directory", metavar="DIR")
    generate.add_argument(
        "--name",
        action="append",
        dest="names",
        metavar="NAME",
        help="a key pair to make (repeatable; 'server' is the server's)",
    )
    generate.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Make the key pairs; 0 done, 1 a file exists or cannot be written, 2 a bad name."""
    import zmq.auth

    names: list[str] = args.names or ["server", "client"]
    bad = [name for name in names if not _NAME.match(name)]
    if bad or len(set(names)) != len(names):
        return _fail(f"names are letters, digits, '.', '_' and '-', each once; got {names}", 2)
    directory = Path(args.directory)
    clients = directory / "clients"
    planned = [directory / f"{n}{ext}" for n in names for ext in (".key", ".key_secret")]
    planned += [clients / f"{n}.key" for n in names if n != "server"]
    existing = [str(path) for path in planned if path.exists()]
    if existing:
        return _fail(f"not overwriting {', '.join(existing)}", 1)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in names:
            public, secret = zmq.auth.create_certificates(str(directory), name)
            os.chmod(secret, 0o600)
            line = f"{name}: public {public}, secret {secret}"
            if name != "server":
                clients.mkdir(mode=0o700, exist_ok=True)
                allowed = shutil.copyfile(public, clients / f"{name}.key")
                line += f", allowed as {allowed}"
            print(line)
    except OSError as exc:
        return _fail(str(exc), 1)
    if "server" in names and len(names) > 1:
        client = next(name for name in names if name != "server")
        print(
            f"serve:  tellerhal serve KIOSK.toml --endpoint tcp://0.0.0.0:5740 "
            f"--curve-secret {directory / 'server.key_secret'} --curve-clients {clients}\n"
            f"reach:  zmq://HOST:5740/card_reader?server_key={directory / 'server.key'}"
            f"&client_key={directory / f'{client}.key_secret'}"
        )
    return 0


def _fail(message: str, status: int) -> int:
    print(f"{_PROGRAM}: {message}", file=sys.stderr)
    return status
