"""LoT value semantics: text forms, casts, operators, comparisons and built-ins.

Every function here is pure apart from `timestamp`, the random functions and
`conversion_failed`, which reports a failed cast to whoever installed a
reporter (the running execution; see `lot_runtime.execution`). Values are the
Python types of docs/runtime-api.md: str, int, float, bool, dict/list, bytes
and None for EMPTY.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import random
import re
import time as _time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "add",
    "as_bool",
    "as_bytes",
    "as_double",
    "as_int",
    "as_json",
    "as_string",
    "as_timestamp",
    "contains",
    "conversion_failed",
    "div",
    "ends_with",
    "eq",
    "ge",
    "get_json",
    "gt",
    "join",
    "le",
    "lt",
    "mod",
    "mul",
    "ne",
    "neg",
    "number",
    "payload",
    "python_result",
    "random_between",
    "random_uuid",
    "regex_filter",
    "replace",
    "split_csv",
    "starts_with",
    "sub",
    "text",
    "timestamp",
    "trim",
    "truthy",
]

log = logging.getLogger("lot.values")

Number = int | float

# Text that means "no value": it converts to the fallback without a report.
_NO_VALUE = ("", "null")


# ---------------------------------------------------------------- text form


def text(v: Any) -> str:
    """The LoT text form of a value (what PUBLISH sends, what `+` joins)."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float_text(v)
    if isinstance(v, dict | list):
        return json.dumps(_json_ready(v), separators=(",", ":"), ensure_ascii=False)
    if isinstance(v, bytes | bytearray):
        return bytes(v).decode("utf-8", errors="replace")
    return str(v)


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    r = repr(v)
    return r[:-2] if r.endswith(".0") else r


def json_number(v: float) -> str:
    """A float as JSON with LoT numbers: 212 not 212.0; NaN and infinities null."""
    if v - v != 0.0:  # NaN or an infinity
        return "null"
    r = repr(v)
    return r[:-2] if r.endswith(".0") else r


def _json_ready(v: Any) -> Any:
    """A copy of v whose floats print as LoT prints them (212, not 212.0)."""
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return int(v) if repr(v).endswith(".0") else v
    if isinstance(v, dict):
        return {str(k): _json_ready(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_ready(x) for x in v]
    if isinstance(v, bytes | bytearray):
        return text(v)
    return v


def json_text(v: Any) -> str:
    """Compact JSON of any value, numbers in LoT form."""
    return json.dumps(_json_ready(v), separators=(",", ":"), ensure_ascii=False)


def payload(v: Any) -> bytes:
    """The bytes PUBLISH sends for a value."""
    if isinstance(v, bytes):
        return v
    return text(v).encode()


# ---------------------------------------------------------------- failures


def _no_reporter(type_name: str, value: Any) -> None:
    log.debug("conversion to %s failed outside an execution", type_name)


_reporter: Callable[[str, Any], None] = _no_reporter


def set_failure_reporter(reporter: Callable[[str, Any], None] | None) -> None:
    """Install the function that counts and logs failed conversions."""
    global _reporter
    _reporter = reporter or _no_reporter


def conversion_failed(type_name: str, value: Any) -> None:
    """Report that `value` did not convert to `type_name` (the fallback is used)."""
    _reporter(type_name, value)


# ---------------------------------------------------------------- numbers


def number(v: Any) -> Number | None:
    """v as an int or float, or None when it is no number (booleans are not)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return v
    if isinstance(v, bytes | bytearray):
        v = text(v)
    if not isinstance(v, str):
        return None
    return _parse_number(v)


@functools.lru_cache(maxsize=4096)
def _parse_number(s: str) -> Number | None:
    s = s.strip()
    if not s or "_" in s:
        return None
    try:
        return int(s)
    except ValueError:
        pass
    try:
        value = float(s)
    except ValueError:
        return None
    # "inf" and "nan" are words in a payload, not measurements: text is a
    # number only when it is a finite one.
    return value if math.isfinite(value) else None


def _is_no_value(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in _NO_VALUE)


# ---------------------------------------------------------------- casts


def as_int(v: Any) -> int:
    """AS INT: numbers truncate toward zero; anything else falls back to 0."""
    if isinstance(v, bool):
        return int(v)
    n = number(v)
    if isinstance(n, int):
        return n
    if n is not None and math.isfinite(n):
        return int(n)
    if not _is_no_value(v):
        conversion_failed("INT", v)
    return 0


def as_double(v: Any) -> float:
    """AS DOUBLE: numbers and numeric text; anything else falls back to 0.0."""
    if type(v) is str and "_" not in v:
        # The common case, a payload that is a finite number, in one step:
        # float() reads exactly the text `number` accepts, less the words.
        try:
            f = float(v)
        except ValueError:
            pass
        else:
            if f - f == 0.0:
                return f
    if isinstance(v, bool):
        return float(v)
    n = number(v)
    if n is not None:
        try:
            return float(n)
        except OverflowError:
            pass
    if not _is_no_value(v):
        conversion_failed("DOUBLE", v)
    return 0.0


def as_bool(v: Any) -> bool:
    """AS BOOL: true/false in any case, numbers (non-zero is true)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, bytes | bytearray):
        v = text(v)
    if isinstance(v, str):
        word = v.strip().lower()
        if word == "true":
            return True
        if word == "false":
            return False
    n = number(v)
    if n is not None:
        return n != 0
    if not _is_no_value(v):
        conversion_failed("BOOL", v)
    return False


def as_string(v: Any) -> str:
    """AS STRING: the text form."""
    return text(v)


def as_timestamp(v: Any, fmt: str | None = None) -> str:
    """AS TIMESTAMP: text stays text; numbers are UNIX seconds (or ms).

    With `fmt`, the moment is read (ISO 8601 text or UNIX time) and written in
    that format; a value that is no moment falls back to "".
    """
    if _is_no_value(v):
        return ""
    if fmt is None and isinstance(v, str):
        return v
    moment = _moment(v)
    if moment is None:
        if fmt is None and not isinstance(v, dict | list):
            return text(v)
        conversion_failed("TIMESTAMP", v)
        return ""
    return text(_format_time(moment, fmt or "UTC"))


def _moment(v: Any) -> datetime | None:
    n = number(v)
    if n is not None:
        seconds = n / 1000 if abs(n) >= 100_000_000_000 else n
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(v, str):
        return None
    try:
        moment = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def as_json(v: Any) -> dict[str, Any] | list[Any] | None:
    """AS OBJECT / AS ARRAY: a dict or list, parsed from JSON text if needed."""
    if isinstance(v, dict | list):
        return v
    if _is_no_value(v):
        return None
    if isinstance(v, str | bytes | bytearray):
        try:
            parsed = json.loads(v)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict | list):
            return parsed
    conversion_failed("JSON", v)
    return None


def as_bytes(v: Any) -> bytes:
    """AS BYTES: raw bytes (the payload itself when v is already bytes)."""
    return payload(v)


# ---------------------------------------------------------------- operators


def add(a: Any, b: Any) -> Any:
    """`+`: adds two numbers (or numeric texts), otherwise joins text forms."""
    x, y = number(a), number(b)
    if x is not None and y is not None:
        return x + y
    return text(a) + text(b)


def join(*parts: Any) -> str:
    """`+` where the compiler knows it joins text."""
    return "".join([p if type(p) is str else text(p) for p in parts])


def _operand(v: Any) -> Number:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v
    n = number(v)
    if n is not None:
        return n
    return as_double(v)


def sub(a: Any, b: Any) -> Number:
    return _operand(a) - _operand(b)


def mul(a: Any, b: Any) -> Number:
    return _operand(a) * _operand(b)


def div(a: Any, b: Any) -> Number:
    """`/`: an int when both sides are ints and it is exact; 0 divisor raises."""
    x, y = _operand(a), _operand(b)
    if y == 0:
        raise ZeroDivisionError("division by zero")
    if isinstance(x, int) and isinstance(y, int):
        q, r = divmod(x, y)
        if r == 0:
            return q
    return x / y


def mod(a: Any, b: Any) -> Number:
    """`%`: remainder with the sign of the dividend, as .NET computes it."""
    x, y = _operand(a), _operand(b)
    if y == 0:
        raise ZeroDivisionError("modulo by zero")
    if isinstance(x, int) and isinstance(y, int):
        r = abs(x) % abs(y)
        return -r if x < 0 else r
    return math.fmod(x, y)


def neg(v: Any) -> Number:
    n = _operand(v)
    return -n if n else n


# ---------------------------------------------------------------- comparisons


def eq(a: Any, b: Any) -> bool:
    """`==`: numeric when both sides are numbers, else exact text; EMPTY == ""."""
    x, y = number(a), number(b)
    if x is not None and y is not None:
        return x == y
    return text(a) == text(b)


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    x, y = number(a), number(b)
    if x is not None and y is not None:
        return x, y
    return text(a), text(b)


def lt(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x < y)


def gt(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x > y)


def le(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x <= y)


def ge(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x >= y)


def contains(a: Any, b: Any) -> bool:
    return text(b) in text(a)


def starts_with(a: Any, b: Any) -> bool:
    return text(a).startswith(text(b))


def ends_with(a: Any, b: Any) -> bool:
    return text(a).endswith(text(b))


def truthy(v: Any) -> bool:
    """A condition: True, a non-zero number, the text `true` or a non-zero number."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, dict | list):
        return bool(v)
    if isinstance(v, bytes | bytearray):
        v = text(v)
    if isinstance(v, str):
        if v.strip().lower() == "true":
            return True
        n = _parse_number(v)
        return n is not None and n != 0
    return False


# ---------------------------------------------------------------- JSON

_PATH_STEP = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")

# One parsed document is remembered: an action usually reads several members
# of the same payload, and parsing it once per read would dominate.
_last_doc: tuple[str | bytes, Any] | None = None


@functools.lru_cache(maxsize=1024)
def _path_steps(path: str) -> tuple[str | int, ...]:
    return tuple(
        int(index) if index else name for name, index in _PATH_STEP.findall(path)
    )


def get_json(path: str, source: Any) -> Any:
    """GET JSON: a member of a JSON document; missing or null gives "null"."""
    global _last_doc
    doc = source
    if isinstance(source, str | bytes | bytearray):
        if _last_doc is not None and _last_doc[0] == source:
            doc = _last_doc[1]
        else:
            try:
                doc = json.loads(source)
            except ValueError:
                conversion_failed("JSON", source)
                return "null"
            _last_doc = (
                bytes(source) if isinstance(source, bytearray) else source,
                doc,
            )
    for step in _path_steps(path):
        if isinstance(step, int) and isinstance(doc, list):
            if not -len(doc) <= step < len(doc):
                return "null"
            doc = doc[step]
        elif isinstance(step, str) and isinstance(doc, dict):
            if step not in doc:
                return "null"
            doc = doc[step]
        else:
            return "null"
    return "null" if doc is None else doc


# ---------------------------------------------------------------- time


def timestamp(fmt: str, now: datetime | None = None) -> str | int:
    """TIMESTAMP fmt: the current UTC time as UTC, ISO, UNIX, UNIX-MS or a pattern."""
    if now is None and fmt in _SECONDS:
        # Whole-second formats change once a second: format them that often.
        second = int(_time.time())
        cached = _SECONDS[fmt]
        if cached[0] != second:
            moment = datetime.fromtimestamp(second, UTC)
            cached = _SECONDS[fmt] = (second, moment.strftime(_STRFTIME[fmt]))
        return cached[1]
    moment = now.astimezone(UTC) if now is not None else datetime.now(UTC)
    return _format_time(moment, fmt)


_STRFTIME = {"UTC": "%Y-%m-%d %H:%M:%S", "ISO": "%Y-%m-%dT%H:%M:%SZ"}
_SECONDS: dict[str, tuple[int, str]] = {fmt: (-1, "") for fmt in _STRFTIME}


def _format_time(moment: datetime, fmt: str) -> str | int:
    upper = fmt.upper()
    if upper == "UTC":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if upper == "ISO":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if upper == "UNIX":
        return int(moment.timestamp())
    if upper == "UNIX-MS":
        return int(moment.timestamp() * 1000)
    return "".join(piece(moment) for piece in _compile_pattern(fmt))


_MONTHS = (
    "January February March April May June July August September October "
    "November December"
).split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def _offset(moment: datetime, length: int) -> str:
    delta = moment.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta else 0
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    if length == 1:
        return f"{sign}{hours}"
    if length == 2:
        return f"{sign}{hours:02d}"
    return f"{sign}{hours:02d}:{rest:02d}"


_TOKENS: dict[str, Callable[[datetime, int], str]] = {
    "y": lambda m, n: f"{m.year % 100:02d}" if n == 2 else f"{m.year:0{n}d}",
    "M": lambda m, n: (
        _MONTHS[m.month - 1]
        if n >= 4
        else _MONTHS[m.month - 1][:3]
        if n == 3
        else f"{m.month:0{n}d}"
    ),
    "d": lambda m, n: (
        _DAYS[m.weekday()]
        if n >= 4
        else _DAYS[m.weekday()][:3]
        if n == 3
        else f"{m.day:0{n}d}"
    ),
    "H": lambda m, n: f"{m.hour:0{min(n, 2)}d}",
    "h": lambda m, n: f"{(m.hour % 12) or 12:0{min(n, 2)}d}",
    "m": lambda m, n: f"{m.minute:0{min(n, 2)}d}",
    "s": lambda m, n: f"{m.second:0{min(n, 2)}d}",
    "f": lambda m, n: f"{m.microsecond:06d}"[: min(n, 6)].ljust(n, "0"),
    "t": lambda m, n: ("AM" if m.hour < 12 else "PM")[:n],
    "z": _offset,
}


@functools.lru_cache(maxsize=256)
def _compile_pattern(fmt: str) -> tuple[Callable[[datetime], str], ...]:
    """Split a .NET date pattern into token writers and literal text."""
    pieces: list[Callable[[datetime], str]] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c in _TOKENS:
            j = i
            while j < len(fmt) and fmt[j] == c:
                j += 1
            pieces.append(_writer(_TOKENS[c], j - i))
            i = j
        elif c in "'\"":
            end = fmt.find(c, i + 1)
            end = len(fmt) if end < 0 else end
            pieces.append(_literal(fmt[i + 1 : end]))
            i = end + 1
        elif c == "\\" and i + 1 < len(fmt):
            pieces.append(_literal(fmt[i + 1]))
            i += 2
        else:
            pieces.append(_literal(c))
            i += 1
    return tuple(pieces)


def _writer(token: Callable[[datetime, int], str], n: int) -> Callable[[datetime], str]:
    return lambda m: token(m, n)


def _literal(s: str) -> Callable[[datetime], str]:
    return lambda _m: s


# ---------------------------------------------------------------- built-ins


def random_between(low: Any, high: Any, kind: str = "INT") -> Number:
    """RANDOM [INT|DOUBLE] BETWEEN low AND high, both bounds inclusive."""
    a, b = as_double(low), as_double(high)
    if a > b:
        a, b = b, a
    if kind.upper() == "DOUBLE":
        return random.uniform(a, b)
    return random.randint(math.ceil(a), math.floor(b))


def random_uuid() -> str:
    return str(uuid.uuid4())


def regex_filter(source: Any, pattern: str) -> str:
    """FILTER ... USING REGEX: the first match, "" when there is none."""
    try:
        found = re.search(pattern, text(source))
    except re.error:
        return ""
    return found.group(0) if found else ""


def replace(old: Any, new: Any, source: Any) -> str:
    """REPLACE old WITH new IN source: every occurrence."""
    old_text, source_text = text(old), text(source)
    if not old_text:
        return source_text
    return source_text.replace(old_text, text(new))


def trim(source: Any) -> str:
    return text(source).strip()


def split_csv(source: Any) -> list[str]:
    """SPLIT ... USING CSV: the fields of one CSV line."""
    line = text(source).strip("\r\n")
    if not line:
        return []
    return next(csv.reader([line]))


def python_result(v: Any) -> str:
    """The text a CALL PYTHON result becomes: str unchanged, the rest as JSON."""
    if isinstance(v, str):
        return v
    if v is None:
        return "null"
    if isinstance(v, dict | list | tuple):
        return json_text(v)
    return text(v)
