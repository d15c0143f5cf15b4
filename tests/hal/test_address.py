"""Device addresses: the examples of DESIGN.md, precise errors, and round-trip properties."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.address import DeviceAddress
from hal.errors import ConfigurationError

EXAMPLES = [
    # text, spy, driver, transport, authority, path, options
    ("crt310+serial:///dev/ttyUSB0?baud=9600", False, "crt310", "serial", "", "/dev/ttyUSB0",
     {"baud": "9600"}),
    ("escpos+usb://?vid=0x0416&pid=0x5011&serial=A1", False, "escpos", "usb", "", "",
     {"vid": "0x0416", "pid": "0x5011", "serial": "A1"}),
    ("pcsc://ACS%20ACR39U%2000", False, "pcsc", None, "ACS ACR39U 00", "", {}),
    ("zmq://127.0.0.1:5740/card_reader", False, "zmq", None, "127.0.0.1:5740", "/card_reader",
     {}),
    ("zmq+ipc:///run/tellerhal/kiosk.sock/card_reader", False, "zmq", "ipc", "",
     "/run/tellerhal/kiosk.sock/card_reader", {}),
    ("sim://card_reader?profile=visa", False, "sim", None, "card_reader", "",
     {"profile": "visa"}),
    ("spy+crt310+serial:///dev/ttyS0", True, "crt310", "serial", "", "/dev/ttyS0", {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "spy", "driver", "transport", "authority", "path", "options"), EXAMPLES
)
def test_examples_parse_and_print_back(
    text: str,
    spy: bool,
    driver: str,
    transport: str | None,
    authority: str,
    path: str,
    options: dict[str, str],
) -> None:
    address = DeviceAddress.parse(text)
    assert (address.spy, address.driver, address.transport) == (spy, driver, transport)
    assert (address.authority, address.path) == (authority, path)
    assert dict(address.options) == options
    assert list(address.options) == list(options)  # order kept
    assert str(address) == text
    assert DeviceAddress.parse(str(address)) == address


def test_fields_and_helpers() -> None:
    address = DeviceAddress.parse("spy+crt310+serial:///dev/ttyS0?baud=9600&parity=E")
    assert address.scheme == "spy+crt310+serial"
    assert address.location == "spy+crt310+serial:///dev/ttyS0"
    assert repr(address) == "DeviceAddress('spy+crt310+serial:///dev/ttyS0?baud=9600&parity=E')"
    changed = address.with_options({"baud": "115200", "parity": None, "timeout": "2"})
    assert str(changed) == "spy+crt310+serial:///dev/ttyS0?baud=115200&timeout=2"
    assert address.options["parity"] == "E"  # the original is untouched
    assert hash(address) == hash(DeviceAddress.parse(str(address)))


def test_options_in_another_order_are_equal() -> None:
    a = DeviceAddress.parse("x://?a=1&b=2")
    b = DeviceAddress.parse("x://?b=2&a=1")
    assert a == b
    assert hash(a) == hash(b)


def test_decoding_and_canonical_encoding() -> None:
    address = DeviceAddress.parse("pcsc://ACS%20ACR39U%2000%2fx/a%20b?name=caf%C3%A9&q=a%26b")
    assert address.authority == "ACS ACR39U 00/x"
    assert address.path == "/a b"
    assert dict(address.options) == {"name": "café", "q": "a&b"}
    assert str(address) == "pcsc://ACS%20ACR39U%2000%2Fx/a%20b?name=caf%C3%A9&q=a%26b"


def test_raw_characters_each_part_allows() -> None:
    text = "x://user@[::1]:80/a:b@c/d!$'()*+,;=?k=a=b+c/d?e:f@g"
    address = DeviceAddress.parse(text)
    assert address.authority == "user@[::1]:80"
    assert address.path == "/a:b@c/d!$'()*+,;="
    assert address.options["k"] == "a=b+c/d?e:f@g"  # '+' is a plus, not a space
    assert str(address) == text


def test_empty_value_is_allowed() -> None:
    assert dict(DeviceAddress.parse("x://?serial=").options) == {"serial": ""}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sim:/card_reader", "\"sim:/card_reader\": expected '://' after the scheme at column 4"),
        ("card_reader", "expected '://' after the scheme at column 12"),
        ("", "expected a driver name at column 1"),
        ("://x", "expected a name in the scheme at column 1"),
        ("Sim://x", "illegal character 'S' in the scheme"),
        ("si m://x", "illegal character ' ' in the scheme"),
        ("crt310++serial://", "expected a name in the scheme at column 8"),
        ("crt310+://", "expected a name in the scheme at column 8"),
        ("9sim://", "a scheme name starts with a letter, not '9' at column 1"),
        ("spy://x", "'spy' is a prefix: expected 'spy+DRIVER'"),
        ("crt310+spy://", "'spy' may only come first in the scheme at column 8"),
        ("a+b+c://", "too many names in the scheme: expected [spy+]DRIVER[+TRANSPORT] at column 4"),
        ("x://%zz", "bad percent escape '%zz': expected '%' and two hex digits at column 5"),
        ("x://a%2", "bad percent escape '%2'"),
        ("x://a%2/b", "bad percent escape '%2'"),
        ("x://%C3", "the percent escapes do not form UTF-8 text at column 5"),
        ("x://a b", "character ' ' must be percent-encoded (%20) at column 6"),
        ("x://a#b", "character '#' must be percent-encoded (%23)"),
        ("x://é", "character 'é' must be percent-encoded (%C3%A9) at column 5"),
        ("x://[x]/a[b", "character '[' must be percent-encoded (%5B) at column 10"),
        ("x://?", "expected an option after '?' at column 6"),
        ("x://?a=1&&b=2", "expected an option (KEY=VALUE) at column 10"),
        ("x://?a=1&", "expected an option (KEY=VALUE) at column 10"),
        ("x://?a", "expected '=' after option 'a' at column 7"),
        ("x://?=1", "expected an option name before '=' at column 6"),
        ("x://?1a=2", "illegal character '1' in an option name: expected a letter or '_'"),
        ("x://?a-b=2", "illegal character '-' in an option name"),
        ("x://?a=1&a=2", "duplicate option 'a' (already given at column 6) at column 10"),
        ("x://?a=b c", "character ' ' must be percent-encoded (%20) at column 9"),
        ("x://?a=b&c", "expected '=' after option 'c'"),
    ],
)
def test_errors_say_where_and_what(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        DeviceAddress.parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith(f'"{text}": ')


def test_error_quotes_unprintable_text_safely() -> None:
    with pytest.raises(ConfigurationError, match=r"^'x://a\\nb': character '\\n'"):
        DeviceAddress.parse("x://a\nb")


def test_parse_needs_text() -> None:
    with pytest.raises(TypeError):
        DeviceAddress.parse(b"sim://card_reader")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"driver": ""}, "a driver name"),
        ({"driver": "Sim"}, "a driver name"),
        ({"driver": "spy"}, "a driver name"),
        ({"driver": "x", "transport": "spy"}, "a transport name"),
        ({"driver": "x", "transport": "se rial"}, "a transport name"),
        ({"driver": "x", "path": "dev"}, "a path starts with '/'"),
        ({"driver": "x", "options": {"a b": "1"}}, "an option name is an identifier"),
        ({"driver": "x", "options": {"a": 1}}, "is a str"),
        ({"driver": "x", "authority": "\ud800"}, "not valid text"),
    ],
)
def test_construction_is_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DeviceAddress(**kwargs)  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True).filter(lambda n: n != "spy")
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@st.composite
def addresses(draw: st.DrawFn) -> DeviceAddress:
    return DeviceAddress(
        spy=draw(st.booleans()),
        driver=draw(names),
        transport=draw(st.none() | names),
        authority=draw(st.text()),
        path=draw(st.just("") | st.text().map(lambda t: "/" + t)),
        options=draw(st.dictionaries(keys, st.text(), max_size=5)),
    )


@given(addresses())
def test_str_round_trips(address: DeviceAddress) -> None:
    text = str(address)
    assert text.isascii()
    parsed = DeviceAddress.parse(text)
    assert parsed == address
    assert list(parsed.options) == list(address.options)
    assert str(parsed) == text


URL_ALPHABET = string.ascii_letters + string.digits + ":/?#[]@!$&'()*+,;=%-._~ \u00e9"


@given(st.text(alphabet=URL_ALPHABET) | st.text())
def test_any_text_parses_or_raises_configuration_error(text: str) -> None:
    try:
        address = DeviceAddress.parse(text)
    except ConfigurationError:
        return
    assert DeviceAddress.parse(str(address)) == address


@given(addresses())
def test_mangled_addresses_parse_or_raise_configuration_error(address: DeviceAddress) -> None:
    text = str(address)
    for cut in range(len(text)):
        for mangled in (text[:cut], text[:cut] + "%" + text[cut:], text[cut + 1 :]):
            with contextlib.suppress(ConfigurationError):
                DeviceAddress.parse(mangled)
