"""Typed options: conversion, precise errors, canonical spelling and the round trip."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.errors import ConfigurationError
from hal.options import (
    OptionInfo,
    check_options_type,
    describe_options,
    format_option,
    option_names,
    options_to_query,
    parse_options,
)


class Profile(enum.StrEnum):
    VISA = "visa"
    MAG_ONLY = "mag_only"


class Parity(enum.Enum):
    NONE = "N"
    EVEN = "E"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True)
class SimOptions:
    """Shaped like the simulator's card reader options."""

    profile: Profile = Profile.VISA
    seed: int = 0
    clock_scale: float = 1.0
    ledger: Path | None = None
    retain_capacity: int = 10
    variant: str = "good"
    world: str = "default"


@dataclass(frozen=True)
class Required:
    name: str
    vid: int = 0


@dataclass(frozen=True)
class Unsupported:
    tags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Simple:
    name: str = ""
    vid: int = 0
    ratio: float = 0.5
    flag: bool = False
    path: Path = Path("/dev/null")
    parity: Parity = Parity.NONE
    level: Level = Level.LOW
    mode: Literal["fast", "safe", 3] = "safe"
    maybe: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Checked:
    low: int = 0
    high: int = 10

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")


WHERE = "sim://card_reader"


def test_unknown_option_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_options(SimOptions, {"profle": "visa"}, where=WHERE)
    assert str(info.value) == (
        "sim://card_reader: unknown option 'profle'; allowed: clock_scale, ledger, profile, "
        "retain_capacity, seed, variant, world"
    )


def test_strings_convert_to_field_types() -> None:
    opts = parse_options(
        Simple,
        {
            "name": "A1",
            "vid": "0x0416",
            "ratio": "2.5",
            "flag": "Yes",
            "path": "/dev/ttyUSB0",
            "parity": "E",
            "level": "2",
            "mode": "3",
            "maybe": "",
            "note": "x",
        },
        where=WHERE,
    )
    assert opts == Simple(
        name="A1",
        vid=0x0416,
        ratio=2.5,
        flag=True,
        path=Path("/dev/ttyUSB0"),
        parity=Parity.EVEN,
        level=Level.HIGH,
        mode=3,
        maybe=None,
        note="x",
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("9600", 9600), ("0x10", 16), ("0o17", 15), ("0b101", 5), ("-3", -3), ("0042", 42)],
)
def test_integers(text: str, value: int) -> None:
    assert parse_options(Simple, {"vid": text}, where=WHERE).vid == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("off", False)],
)
def test_booleans(text: str, value: bool) -> None:
    assert parse_options(Simple, {"flag": text}, where=WHERE).flag is value


@pytest.mark.parametrize(
    ("key", "value", "expects"),
    [
        ("vid", "fast", "an integer (decimal or 0x hex)"),
        ("vid", " 1", "an integer (decimal or 0x hex)"),
        ("vid", "", "an integer (decimal or 0x hex)"),
        ("ratio", "nan", "a finite number"),
        ("ratio", "inf", "a finite number"),
        ("flag", "maybe", "true or false"),
        ("parity", "X", "one of N, E"),
        ("level", "3", "one of 1, 2"),
        ("mode", "slow", "one of fast, safe, 3"),
        ("maybe", "x", "an integer (decimal or 0x hex) or empty for none"),
        ("path", "", "a path"),
    ],
)
def test_conversion_failure_names_key_type_and_value(key: str, value: str, expects: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_options(Simple, {key: value}, where=WHERE)
    assert str(info.value) == f"{WHERE}: option {key!r} expects {expects}, got {value!r}"


def test_typed_values_from_toml() -> None:
    opts = parse_options(
        Simple, {"vid": 5, "ratio": 2, "flag": True, "parity": "E", "maybe": 7}, where=WHERE
    )
    assert (opts.vid, opts.ratio, opts.flag, opts.parity, opts.maybe) == (
        5,
        2.0,
        True,
        Parity.EVEN,
        7,
    )
    assert isinstance(opts.ratio, float)


@pytest.mark.parametrize(
    ("key", "value"),
    [("vid", True), ("vid", 1.5), ("name", 5), ("flag", 1), ("ratio", float("nan")),
     ("level", True), ("mode", [1])],
)  # fmt: skip
def test_typed_values_of_the_wrong_type_are_refused(key: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"option '{key}' expects .*, got "):
        parse_options(Simple, {key: value}, where=WHERE)


def test_missing_required_option() -> None:
    with pytest.raises(ConfigurationError, match=r"^x: missing option 'name' \(text\)$"):
        parse_options(Required, {}, where="x")


def test_post_init_failure_becomes_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"^x: low \(5\) must not exceed high \(1\)$"):
        parse_options(Checked, {"low": "5", "high": "1"}, where="x")


def test_unsupported_field_types_are_refused() -> None:
    with pytest.raises(TypeError, match=r"Unsupported.tags: an option of type .* is not supported"):
        check_options_type(Unsupported)
    with pytest.raises(TypeError, match="is a dataclass"):
        check_options_type(int)


def test_format_option() -> None:
    assert [format_option(v) for v in (True, 0x10, 0.5, Path("/x"), Parity.EVEN, None)] == [
        "true",
        "16",
        "0.5",
        "/x",
        "E",
        "",
    ]
    with pytest.raises(TypeError):
        format_option([1])


def test_options_to_query_leaves_defaults_out() -> None:
    assert options_to_query(SimOptions()) == {}
    opts = SimOptions(profile=Profile.MAG_ONLY, seed=7, ledger=Path("/var/l.db"))
    assert options_to_query(opts) == {"profile": "mag_only", "seed": "7", "ledger": "/var/l.db"}
    assert options_to_query(Required(name="a")) == {"name": "a"}  # required: always


def test_describe_and_names() -> None:
    assert option_names(Checked) == ["low", "high"]
    info = {i.name: i for i in describe_options(Simple)}
    assert info["vid"] == OptionInfo("vid", "int", "0")
    assert info["parity"] == OptionInfo("parity", "Parity", "N", ("N", "E"))
    assert info["maybe"] == OptionInfo("maybe", "int | None", "")
    assert info["mode"] == OptionInfo("mode", "int | str", "safe", ("fast", "safe", "3"))


@st.composite
def simple_options(draw: st.DrawFn) -> Simple:
    return Simple(
        name=draw(st.text()),
        vid=draw(st.integers()),
        ratio=draw(st.floats(allow_nan=False, allow_infinity=False)),
        flag=draw(st.booleans()),
        path=draw(st.sampled_from([Path("/dev/ttyS0"), Path("rel/x"), Path("/a b/é")])),
        parity=draw(st.sampled_from(Parity)),
        level=draw(st.sampled_from(Level)),
        mode=draw(st.sampled_from(["fast", "safe", 3])),
        maybe=draw(st.none() | st.integers()),
        note=draw(st.none() | st.text(min_size=1)),
    )


@given(simple_options())
def test_query_round_trips(opts: Simple) -> None:
    assert parse_options(Simple, options_to_query(opts), where=WHERE) == opts
