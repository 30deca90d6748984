"""Numbers as people read them in `kubectl get` (pure)."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'; whole numbers of bytes below 1 KiB stay exact."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def parse_quantity(text: str) -> int:
    """A Kubernetes resource quantity of bytes ('1Gi', '500M', '1.5Gi', '1e9') as whole bytes, rounded up
    (as the API server does for storage requests). Raises ValueError naming the bad text."""
    s = str(text).strip()
    if not _QUANTITY.fullmatch(s):
        raise ValueError(f"not a quantity: {text!r}")
    number, suffix = s, ""
    for unit in (*_BINARY, *(u for u in _DECIMAL if u)):
        if s.endswith(unit):
            number, suffix = s[: -len(unit)], unit
            break
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"not a quantity: {text!r}") from None
    try:
        scaled = value * (_BINARY.get(suffix) or _DECIMAL[suffix])
        return int(scaled.to_integral_value(rounding=ROUND_CEILING))
    except ArithmeticError:  # an exponent beyond any disk (decimal.Overflow)
        raise ValueError(f"quantity out of range: {text!r}") from None


def format_quantity(n: int) -> str:
    """Bytes as the largest binary unit that divides them exactly ('1073741824' -> '1Gi')."""
    for unit, factor in reversed(_BINARY.items()):
        if n and n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)
