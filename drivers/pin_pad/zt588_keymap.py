"""The ``zt588`` driver's key table: key names -> the pad's slots.

The pad knows only slots; the driver keeps a table name -> (slot, usage, algorithm, mode
of use, length, KCV), with no key material (`_Slot`), in memory and, with
``keymap=PATH``, in a JSON file rewritten atomically after every change (`KeyMap`).
TMK slots are 00h-07h, PIN key slots 40h + 8n (n 0-7) (`_SLOTS`). A key still arriving
in clear components is a `_Components` (XORed in a buffer wiped after use). What the
table means for the driver: `drivers.pin_pad.zt588` (the module header).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from hal.devices.pin_pad import KeyAlgorithm, KeyAttributes, KeyDetail, KeyUsage, ModeOfUse
from hal.errors import ConfigurationError
from protocols import zt588

_KEY_TYPES = {KeyUsage.KEK: zt588.KeyType.TMK, KeyUsage.PIN: zt588.KeyType.TPK}
_SLOTS = {
    KeyUsage.KEK: tuple(range(0x00, 0x08)),
    KeyUsage.PIN: tuple(zt588.tpk_slot(n) for n in range(8)),
}
_KEYMAP_VERSION = 1


class _Slot(NamedTuple):
    """A named key: where it is on the pad and what it is (no key material; the KCV
    identifies a key without revealing it)."""

    slot: int
    usage: KeyUsage
    algorithm: KeyAlgorithm
    mode: ModeOfUse
    length: int
    kcv: bytes
    components: int = 0

    def detail(self, name: str) -> KeyDetail:
        return KeyDetail(
            name=name,
            usage=self.usage,
            algorithm=self.algorithm,
            mode_of_use=self.mode,
            length=self.length,
            kcv=self.kcv,
            components=self.components,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "usage": self.usage.value,
            "algorithm": self.algorithm.value,
            "mode_of_use": self.mode.value,
            "length": self.length,
            "kcv": self.kcv.hex().upper(),
            "components": self.components,
        }

    @classmethod
    def from_json(cls, raw: Any) -> _Slot:
        usage = KeyUsage(raw["usage"])
        slot = int(raw["slot"])
        if usage not in _SLOTS or slot not in _SLOTS[usage]:
            raise ValueError(f"slot {slot} is not a {usage.value} slot")
        return cls(
            slot,
            usage,
            KeyAlgorithm(raw["algorithm"]),
            ModeOfUse(raw["mode_of_use"]),
            int(raw["length"]),
            bytes.fromhex(raw["kcv"]),
            int(raw.get("components", 0)),
        )


class KeyMap:
    """Key names -> slots, in memory and (with a path) in a JSON file.

    Args:
        path: the file; empty for memory only.

    Raises:
        ConfigurationError: the file exists and is not a key map.
    """

    def __init__(self, path: str = "") -> None:
        self.path = Path(path) if path else None
        self.keys: dict[str, _Slot] = {}

    def load(self) -> None:
        self.keys = {}
        if self.path is None or not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("version") != _KEYMAP_VERSION:
                raise ValueError(f"version {raw.get('version')!r}, expected {_KEYMAP_VERSION}")
            keys = {str(name): _Slot.from_json(entry) for name, entry in raw["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(
                f"the ZT588 key map {self.path} is unreadable: {exc}"
            ) from None
        slots = [entry.slot for entry in keys.values()]
        if len(set(slots)) != len(slots):
            raise ConfigurationError(f"the ZT588 key map {self.path} gives a slot two names")
        self.keys = keys

    def save(self) -> None:
        """Write the file atomically (a temporary file renamed over it)."""
        if self.path is None:
            return
        body = {
            "version": _KEYMAP_VERSION,
            "keys": {name: entry.to_json() for name, entry in sorted(self.keys.items())},
        }
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(body, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def free_slot(self, usage: KeyUsage) -> int | None:
        used = {entry.slot for entry in self.keys.values()}
        return next((slot for slot in _SLOTS[usage] if slot not in used), None)


class _Components:
    """Clear components of a key under construction: XORed in a wiped buffer."""

    def __init__(self, attributes: KeyAttributes, first: bytes) -> None:
        self.attributes = attributes
        self.value = bytearray(first)
        self.count = 1

    def add(self, component: bytes) -> None:
        for index, byte in enumerate(component):
            self.value[index] ^= byte
        self.count += 1

    def wipe(self) -> None:
        self.value[:] = bytes(len(self.value))

    def __repr__(self) -> str:
        return f"_Components({self.count}, <{len(self.value)} bytes>)"
