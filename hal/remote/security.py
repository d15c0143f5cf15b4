"""Who may reach a served device: endpoint policy and CurveZMQ keys.

The policy (`check_endpoint_security`), applied by `hal.remote.server.RemoteServer`
before it binds:

- ``inproc://``: the same process; always allowed.
- ``ipc://PATH``: the socket file's directory must be ours and closed to group and
  others (mode 0700); it is created so if missing, refused if it is open to others. A
  local user who cannot enter the directory cannot connect. An abstract socket
  (``ipc://@name``) has no permissions at all and is treated like loopback TCP.
- ``tcp://``: CurveZMQ keys are required (anyone who reaches the port could otherwise
  move cards or cash), except for the simulator bound to a loopback address.

Keys are Z85 text (40 characters) as `zmq.curve_keypair()` makes them, or are loaded
from `zmq.auth.create_certificates()` files. A CURVE failure is silent on the client
(the server drops the handshake); the client detects it as no answer to its handshake
within its timeout and says so.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq
import zmq.auth

from hal.errors import ConfigurationError

__all__ = [
    "ANY",
    "AnyClient",
    "CurveClientKeys",
    "CurveServerKeys",
    "check_endpoint_security",
    "endpoint_scheme",
    "remove_ipc_socket",
]


class AnyClient:
    """The type of `ANY`: every client key is allowed (the server key still protects)."""

    _instance: AnyClient | None = None

    def __new__(cls) -> AnyClient:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"


#: Allow any client key: traffic is encrypted and the server authenticated, but any
#: client that knows the server's public key may connect.
ANY: Final = AnyClient()


def _check_key(key: bytes, what: str) -> bytes:
    if isinstance(key, str):
        key = key.encode("ascii")
    if not isinstance(key, bytes) or len(key) != 40:
        raise ConfigurationError(f"the {what} is 40 characters of Z85 text")
    try:
        zmq.utils.z85.decode(key)
    except (ValueError, KeyError, IndexError) as exc:
        raise ConfigurationError(f"the {what} is not Z85 text") from exc
    return key


def _check_pair(secret: bytes, public: bytes, who: str) -> None:
    if zmq.curve_public(secret) != public:
        raise ConfigurationError(f"the {who} public key does not belong to its secret key")


@dataclass(frozen=True, repr=False)
class CurveServerKeys:
    """The server's CURVE key pair and the client keys it accepts.

    Attributes:
        secret: the server's secret key (Z85).
        public: the server's public key (Z85); clients need it.
        allowed_clients: the Z85 public keys of the clients allowed in, or `ANY`.

    Raises:
        ConfigurationError: a key that is not Z85, or a pair that does not match.
    """

    secret: bytes
    public: bytes
    allowed_clients: frozenset[bytes] | AnyClient

    def __post_init__(self) -> None:
        object.__setattr__(self, "secret", _check_key(self.secret, "server secret key"))
        object.__setattr__(self, "public", _check_key(self.public, "server public key"))
        _check_pair(self.secret, self.public, "server")
        if not isinstance(self.allowed_clients, AnyClient):
            allowed = frozenset(_check_key(k, "allowed client key") for k in self.allowed_clients)
            object.__setattr__(self, "allowed_clients", allowed)

    @classmethod
    def from_files(
        cls, secret_file: str | os.PathLike[str], allowed: str | os.PathLike[str] | AnyClient
    ) -> CurveServerKeys:
        """Load the server's ``.key_secret`` certificate and the allowed clients.

        Args:
            secret_file: a ``zmq.auth`` certificate holding the server's secret key.
            allowed: a directory of client public ``.key`` certificates, or `ANY`.

        Raises:
            ConfigurationError: a missing or unreadable file, or one without a secret.
        """
        public, secret = _load(secret_file, need_secret=True)
        assert secret is not None
        if isinstance(allowed, AnyClient):
            return cls(secret, public, ANY)
        directory = Path(allowed)
        if not directory.is_dir():
            raise ConfigurationError(f"{directory} is not a directory of client keys")
        keys = set(zmq.auth.load_certificates(str(directory)))
        return cls(secret, public, frozenset(keys))

    def __repr__(self) -> str:
        allowed = self.allowed_clients
        shown = "ANY" if isinstance(allowed, AnyClient) else f"{len(allowed)} keys"
        return f"CurveServerKeys(public={self.public.decode()!r}, allowed_clients={shown})"


@dataclass(frozen=True, repr=False)
class CurveClientKeys:
    """A client's CURVE key pair and the server's public key.

    Attributes:
        secret: the client's secret key (Z85).
        public: the client's public key (Z85); the server must allow it.
        server_public: the server's public key (Z85).

    Raises:
        ConfigurationError: a key that is not Z85, or a pair that does not match.
    """

    secret: bytes
    public: bytes
    server_public: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "secret", _check_key(self.secret, "client secret key"))
        object.__setattr__(self, "public", _check_key(self.public, "client public key"))
        object.__setattr__(
            self, "server_public", _check_key(self.server_public, "server public key")
        )
        _check_pair(self.secret, self.public, "client")

    @classmethod
    def from_files(
        cls, client_secret_file: str | os.PathLike[str], server_public_file: str | os.PathLike[str]
    ) -> CurveClientKeys:
        """Load the client's ``.key_secret`` certificate and the server's ``.key``.

        Raises:
            ConfigurationError: a missing or unreadable file, or a client file without
                a secret key.
        """
        public, secret = _load(client_secret_file, need_secret=True)
        assert secret is not None
        server_public, _ = _load(server_public_file, need_secret=False)
        return cls(secret, public, server_public)

    def __repr__(self) -> str:
        return (
            f"CurveClientKeys(public={self.public.decode()!r}, "
            f"server_public={self.server_public.decode()!r})"
        )


def _load(path: str | os.PathLike[str], *, need_secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(os.fspath(path))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot load the CURVE certificate {path}: {exc}") from exc
    if need_secret and not secret:
        raise ConfigurationError(
            f"{path} holds no secret key; give the .key_secret file made by "
            "zmq.auth.create_certificates()"
        )
    return public, secret


# --- endpoint policy ---------------------------------------------------------------------

_SCHEMES = ("tcp", "ipc", "inproc")


def endpoint_scheme(endpoint: str) -> str:
    """``tcp``, ``ipc`` or ``inproc``.

    Raises:
        ConfigurationError: another or no ZeroMQ transport.
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme not in _SCHEMES or not rest:
        raise ConfigurationError(
            f"endpoint {endpoint!r}: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME"
        )
    return scheme


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # '*', an interface name or a host name


def check_endpoint_security(
    endpoint: str, curve: CurveServerKeys | None, *, simulator: bool
) -> None:
    """Refuse an endpoint that would expose devices to more than their owner.

    Args:
        endpoint: where a server is about to bind.
        curve: its CURVE keys, if any.
        simulator: the devices are simulated: loopback TCP without keys is allowed.

    Raises:
        ConfigurationError: plaintext TCP (other than the simulator on loopback), an
            ``ipc://`` directory open to group or others or not ours, an abstract
            ``ipc://@`` socket without keys outside the simulator, or an unsupported
            transport.
    """
    scheme = endpoint_scheme(endpoint)
    rest = endpoint.partition("://")[2]
    if scheme == "inproc":
        return
    if scheme == "ipc" and not rest.startswith("@"):
        _check_ipc_directory(Path(rest).parent, endpoint)
        return
    if curve is not None:
        return
    if scheme == "ipc":
        if simulator:
            return
        raise ConfigurationError(
            f"{endpoint}: an abstract socket has no file permissions, so any local process "
            "could connect; give CurveZMQ keys or use ipc:// with a path"
        )
    host = rest.rpartition(":")[0]
    if simulator and _is_loopback(host):
        return
    raise ConfigurationError(
        f"{endpoint}: plaintext TCP is refused (anyone reaching the port could move cards or "
        "cash); give CurveZMQ keys, or serve on ipc:// in a 0700 directory. Only the "
        "simulator may listen on loopback TCP without keys"
    )


def _check_ipc_directory(directory: Path, endpoint: str) -> None:
    if not directory.exists():
        try:
            directory.mkdir(mode=0o700, parents=True)
            directory.chmod(0o700)
        except OSError as exc:
            raise ConfigurationError(f"{endpoint}: cannot create {directory}: {exc}") from exc
    info = directory.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"{endpoint}: {directory} is not a directory")
    if info.st_uid != os.geteuid():
        raise ConfigurationError(
            f"{endpoint}: {directory} belongs to uid {info.st_uid}, not to us (uid {os.geteuid()})"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"{endpoint}: {directory} has mode {mode:04o}; the socket's directory must be "
            "0700 so that no other user can connect (chmod 700 it)"
        )


def remove_ipc_socket(endpoint: str) -> None:
    """Remove the socket file of a bound ``ipc://PATH`` once its socket is closed.

    libzmq leaves the file behind; a stale one would look like a server to ``ls`` and
    monitoring. Only a socket file is removed, and a failure is ignored.
    """
    scheme, _, rest = endpoint.partition("://")
    if scheme != "ipc" or not rest or rest.startswith("@"):
        return
    try:
        if stat.S_ISSOCK(os.lstat(rest).st_mode):
            os.unlink(rest)
    except OSError:
        pass
