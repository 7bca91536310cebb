"""Reading JSON from a file we did not write in this process (model cards, recipes, sidecars, autosaves).

``json.loads`` on a stranger's bytes can recurse until the interpreter gives up
(``[[[[...``), spend seconds on a 100,000-digit integer or refuse it with a
``ValueError``, and hand back ``Infinity`` where the code wants a finite number.
:func:`parse_untrusted_json` bounds the size, the nesting depth and the digits of
every integer and refuses NaN and infinities before the document is built; the
rules below then check each field's type and range, and every refusal names the
file and the field.
"""

from __future__ import annotations

import functools
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, NamedTuple

from aigc_studio.errors import InputError

MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 40  # far above any count, size or seed we store (a 64-bit seed has 20 digits)
# Each value costs 30 to 60 bytes of memory and a microsecond however short its text: a document of
# millions of tiny values would take seconds and gigabytes, so their number is bounded too.
MAX_VALUES = 1_000_000  # counted by commas


class UnsafeJson(ValueError):
    """Bytes that are not JSON we can safely use; ``str()`` says why, for a message that names the file."""


class NotJson(UnsafeJson):
    """Bytes that are not JSON text at all (not UTF-8, or a syntax error): likely another kind of file."""


def parse_untrusted_json(
    raw: bytes | str,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    max_int_digits: int = MAX_INT_DIGITS,
    max_values: int = MAX_VALUES,
) -> Any:
    """Parse ``raw`` (UTF-8 bytes or text) within bounds; UnsafeJson (a ValueError) says what is wrong."""
    if len(raw) > max_bytes:
        raise UnsafeJson(f"it is {len(raw):,} bytes of JSON; at most {max_bytes:,} are read")
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise NotJson("it is not UTF-8 text") from None
    else:
        text = raw
    shape = json_shape(text)
    if shape.depth > max_depth:
        raise UnsafeJson(f"it is nested {shape.depth:,} levels deep; at most {max_depth} are allowed")
    if shape.values > max_values:
        raise UnsafeJson(f"it holds {shape.values:,} values; at most {max_values:,} are read")
    if shape.longest_digits > max_int_digits:
        raise UnsafeJson(f"it holds a number of {shape.longest_digits:,} digits; at most {max_int_digits} are read")

    def parse_float(number: str) -> float:
        value = float(number)
        if not math.isfinite(value):
            raise UnsafeJson(f"it holds a number too large to use ({number[:20]}…)")
        return value

    def parse_constant(name: str) -> float:
        raise UnsafeJson(f"it holds {name}, which is not a number")

    try:
        return json.loads(text, parse_float=parse_float, parse_constant=parse_constant)
    except UnsafeJson:
        raise
    except json.JSONDecodeError as exc:
        raise NotJson(f"it is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (RecursionError, ValueError) as exc:  # backstop: the depth was counted above
        raise UnsafeJson(f"it is not JSON we can read ({type(exc).__name__})") from None


class JsonShape(NamedTuple):
    """What a JSON text holds outside its strings, found without parsing it."""

    depth: int  # how deep arrays and objects nest
    values: int  # commas + 1: at least the number of values in the largest container
    longest_digits: int  # the longest run of digits (a number's integer part, fraction or exponent)


def json_shape(text: str) -> JsonShape:
    """The :class:`JsonShape` of ``text``, in linear time and without recursion."""
    import numpy as np

    # Escaped backslashes first, then escaped quotes: every '"' left opens or closes a string.
    plain = text.replace("\\\\", "").replace('\\"', "").encode("utf-8", "surrogatepass")
    codes = np.frombuffer(plain, dtype=np.uint8)
    outside = np.bitwise_xor.accumulate((codes == ord('"')).view(np.uint8)) == 0
    outside &= codes != ord('"')
    steps = _steps_table()[codes]
    steps = steps[outside & (steps != 0)]
    depth = int(np.cumsum(steps, dtype=np.int32).max()) if len(steps) else 0
    commas = int(np.count_nonzero((codes == ord(",")) & outside))
    digits = _longest_run(outside & (codes >= ord("0")) & (codes <= ord("9")))
    return JsonShape(depth, commas + 1, digits)


def _longest_run(mask: Any) -> int:
    import numpy as np

    if not mask.any():
        return 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return int((edges[1::2] - edges[::2]).max())


@functools.cache
def _steps_table() -> Any:
    import numpy as np

    table = np.zeros(256, dtype=np.int8)  # +1 for an opening bracket, -1 for a closing one
    table[[ord("["), ord("{")]] = 1
    table[[ord("]"), ord("}")]] = -1
    return table


# --------------------------------------------------------------------------- field rules
class Rule(ABC):
    """One field's allowed values; ``check`` returns an error text, or None when the value is allowed."""

    @abstractmethod
    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""


class Int(Rule):
    """A whole number (never true/false) within ``low..high``."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, not {json_type(value)}"
        if not self.low <= value <= self.high:
            return f"is {value}, outside {self.low}..{self.high}"
        return None


class Float(Rule):
    """A finite number (an int is fine, true/false is not) within ``low..high``."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, not {json_type(value)}"
        if not (math.isfinite(value) and self.low <= value <= self.high):
            return f"is {value}, outside {self.low}..{self.high}"
        return None


class Text(Rule):
    """A string of at most ``max_len`` characters, optionally matching ``pattern`` in full."""

    def __init__(self, max_len: int = 10_000, pattern: str | None = None) -> None:
        self.max_len = max_len
        self.pattern = re.compile(pattern) if pattern else None

    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""
        if not isinstance(value, str):
            return f"must be text, not {json_type(value)}"
        if len(value) > self.max_len:
            return f"is {len(value):,} characters long; at most {self.max_len:,} are allowed"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"is {value[:40]!r}, not a value AIGC Studio writes"
        return None


class ListOf(Rule):
    """A list of at most ``max_len`` items, each satisfying ``item``."""

    def __init__(self, item: Rule, max_len: int = 1_000_000, min_len: int = 0) -> None:
        self.item, self.max_len, self.min_len = item, max_len, min_len

    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""
        if not isinstance(value, list):
            return f"must be a list, not {json_type(value)}"
        if not self.min_len <= len(value) <= self.max_len:
            return f"has {len(value):,} items; {self.min_len:,}..{self.max_len:,} are allowed"
        for index, item in enumerate(value):
            if problem := self.item.check(item):
                return f"item {index} {problem}"
        return None


class Optional(Rule):
    """``None`` (JSON null) or a value satisfying ``rule``."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def check(self, value: Any) -> str | None:
        """An error text, or None when ``value`` is allowed."""
        return None if value is None else self.rule.check(value)


def check_fields(
    data: Any,
    rules: dict[str, Rule],
    describe: Callable[[str, str], str],
    required: tuple[str, ...] = (),
    error: type[Exception] = InputError,
) -> dict[str, Any]:
    """Check ``data`` is an object whose fields obey ``rules``; returns it, or raises ``error``.

    ``describe(field, problem)`` writes the message (it names the file); unknown fields are allowed.
    """
    if not isinstance(data, dict):
        raise error(describe("", f"it is {json_type(data)}, not a JSON object"))
    for key in required:
        if key not in data:
            raise error(describe(key, f"the field {key!r} is missing"))
    for key, rule in rules.items():
        if key in data and (problem := rule.check(data[key])):
            raise error(describe(key, f"{key} {problem}"))
    return data


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, as users see it in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {str: "text", dict: "an object", list: "a list", int: "a whole number", float: "a number"}.get(
        type(value), type(value).__name__
    )
