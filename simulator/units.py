"""Quantities with units in scenario files.

Scenario values are plain numbers (already SI: s, W, J, W/s, Hz, USD, B, B/s) or strings
with a unit, e.g. ``"10 min"``, ``"1.4 kW"``, ``"3.9 MWh"``, ``"20 MW/min"``, ``"59.5 Hz"``,
``"1 Hz/s"``, ``"30000 USD"``, ``"1.6 TB"``, ``"200 GB/s"``.
Everything is converted to SI floats at load time; the model never sees a unit string.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_DAY_S = 86400.0

#: seconds per time unit
TIME_UNITS: dict[str, float] = {
    "ms": 1e-3,
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": _DAY_S, "day": _DAY_S, "days": _DAY_S,
    "wk": 7 * _DAY_S, "week": 7 * _DAY_S, "weeks": 7 * _DAY_S,
    "yr": 365 * _DAY_S, "y": 365 * _DAY_S, "year": 365 * _DAY_S, "years": 365 * _DAY_S,
}
#: watts per power unit
POWER_UNITS: dict[str, float] = {"W": 1.0, "kW": 1e3, "MW": 1e6, "GW": 1e9}
#: joules per energy unit
ENERGY_UNITS: dict[str, float] = {
    "J": 1.0, "kJ": 1e3, "MJ": 1e6, "GJ": 1e9,
    "Wh": 3600.0, "kWh": 3.6e6, "MWh": 3.6e9, "GWh": 3.6e12,
}
#: hertz per frequency unit
FREQUENCY_UNITS: dict[str, float] = {"Hz": 1.0, "mHz": 1e-3}
#: bytes per data unit (decimal and binary prefixes)
DATA_UNITS: dict[str, float] = {
    "B": 1.0, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
    "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40, "PiB": 2.0**50,
}
#: US dollars per money unit
MONEY_UNITS: dict[str, float] = {"USD": 1.0, "$": 1.0, "kUSD": 1e3, "MUSD": 1e6}

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-z$/%]*(?:/[A-Za-z]+)?)\s*$")


class UnitError(ValueError):
    """A value whose unit is missing, unknown or of the wrong kind."""


#: the largest magnitude accepted per kind of quantity, in SI: far beyond any real site, yet
#: small enough that products and sums of them stay finite in double precision
CEILINGS: dict[str, tuple[float, str]] = {
    "duration": (1e9 * 365 * _DAY_S, "1e9 years"),
    "power": (1e15, "1 PW"),
    "energy": (1e21, "1e21 J"),
    "money": (1e15, "1e15 USD"),
    "frequency": (1e6, "1 MHz"),
    "ramp": (1e15, "1 PW/s"),
    "rate of change of frequency": (1e6, "1 MHz/s"),
    "price": (1e-3, "3.6 million USD/MWh"),
    "data size": (1e21, "1 ZB"),
    "bandwidth": (1e18, "1 EB/s"),
    "energy price": (1e-3, "3.6 million USD/MWh"),
}


def _bounded(number: float, kind: str, value: Any) -> float:
    """``number`` if finite and within the ceiling of ``kind``, else UnitError."""
    if not math.isfinite(number):
        shown = value if isinstance(value, str) else repr(value)
        raise UnitError(f"{shown} is not a finite {kind}" if not isinstance(value, str) or
                        "inf" in value.lower() or "nan" in value.lower()
                        else f"{shown} overflows: too large for a {kind}")
    ceiling = CEILINGS.get(kind)
    if ceiling is not None and abs(number) > ceiling[0]:
        raise UnitError(f"{value!r} is beyond any plausible {kind} (at most {ceiling[1]})")
    return number


def _split(text: str) -> tuple[float, str]:
    m = _QUANTITY.match(text.replace("_", ""))
    if not m:
        raise UnitError(f"cannot read {text!r} as a number with a unit")
    return float(m.group(1)), m.group(2)


def _convert(value: Any, kind: str, table: dict[str, float]) -> float:
    if isinstance(value, bool):
        raise UnitError(f"expected a {kind}, got a boolean")
    if isinstance(value, int | float):
        return _bounded(float(value), kind, value)
    if not isinstance(value, str):
        raise UnitError(f"expected a {kind} (number or string with unit), got {type(value).__name__}")
    number, unit = _split(value)
    if unit == "":
        return _bounded(number, kind, value)
    if unit not in table:
        known = ", ".join(table)
        raise UnitError(f"unknown {kind} unit {unit!r} in {value!r} (use one of: {known})")
    return _bounded(number * table[unit], kind, value)


def to_seconds(value: Any) -> float:
    """Duration in seconds from a number (s) or a string such as ``"10 min"``."""
    return _convert(value, "duration", TIME_UNITS)


def to_watts(value: Any) -> float:
    """Power in W from a number (W) or a string such as ``"1.4 kW"``."""
    return _convert(value, "power", POWER_UNITS)


def to_joules(value: Any) -> float:
    """Energy in J from a number (J) or a string such as ``"3.9 MWh"``."""
    return _convert(value, "energy", ENERGY_UNITS)


def to_usd(value: Any) -> float:
    """Money in USD from a number or a string such as ``"30000 USD"``."""
    return _convert(value, "money", MONEY_UNITS)


def _per(value: Any, kind: str, top: dict[str, float], bottom: dict[str, float],
         example: str) -> float | None:
    """A ``"<number> <top unit>/<bottom unit>"`` string in SI, or None if ``value`` has no '/'."""
    if not (isinstance(value, str) and "/" in value):
        return None
    number, unit = _split(value)
    num, _, den = unit.partition("/")
    if num not in top or den not in bottom:
        raise UnitError(f"unknown {kind} unit {unit!r} in {value!r} (use e.g. {example})")
    return _bounded(number * top[num] / bottom[den], kind, value)


def _rate(value: Any, what: str, units: dict[str, float], shown: str, example: str) -> float:
    """A quantity per time from a number (SI per s) or a string '<n> <unit>/<time unit>'."""
    rate = _per(value, what, units, TIME_UNITS, shown)
    if rate is not None:
        return rate
    if isinstance(value, str) and _split(value)[1]:
        raise UnitError(f"a {what} needs {example}; got {value!r}")
    return _convert(value, what, {})


def to_watts_per_second(value: Any) -> float:
    """Ramp rate in W/s from a number (W/s) or a string such as ``"20 MW/min"``."""
    return _rate(value, "ramp", POWER_UNITS, "MW/s, MW/min", "power per time, e.g. '0.5 MW/s'")


def to_hertz(value: Any) -> float:
    """Frequency in Hz from a number (Hz) or a string such as ``"59.5 Hz"``."""
    return _convert(value, "frequency", FREQUENCY_UNITS)


def to_hertz_per_second(value: Any) -> float:
    """Rate of change of frequency in Hz/s from a number or a string such as ``"1 Hz/s"``."""
    return _rate(value, "rate of change of frequency", FREQUENCY_UNITS, "Hz/s",
                 "Hz per time, e.g. '1 Hz/s'")


def to_usd_per_joule(value: Any) -> float:
    """Energy price in USD/J from a number (USD/J) or a string such as ``"80 USD/MWh"``."""
    price = _per(value, "price", MONEY_UNITS, ENERGY_UNITS, "USD/MWh")
    if price is not None:
        return price
    unit = _split(value)[1] if isinstance(value, str) else ""
    if unit:
        raise UnitError(f"unit {unit!r} in {value!r} is not an energy price: give money per "
                        f"energy, e.g. '80 USD/MWh'")
    return _convert(value, "energy price", {})


def to_bytes(value: Any) -> float:
    """Data size in bytes from a number (B) or a string such as ``"1.6 TB"``."""
    return _convert(value, "data size", DATA_UNITS)


def to_bytes_per_second(value: Any) -> float:
    """Bandwidth in B/s from a number (B/s) or a string such as ``"200 GB/s"``."""
    return _rate(value, "bandwidth", DATA_UNITS, "GB/s, TB/min", "data per time, e.g. '200 GB/s'")


def _annotated(fn: Any, description: str) -> Any:
    schema = {"anyOf": [{"type": "number"}, {"type": "string"}], "description": description}
    return Annotated[float, BeforeValidator(fn), WithJsonSchema(schema)]


Seconds = _annotated(to_seconds, "duration: seconds, or a string such as '10 min', '2 h', '54 d'")
Watts = _annotated(to_watts, "power: watts, or a string such as '700 W', '1.4 kW', '115 MW'")
Joules = _annotated(to_joules, "energy: joules, or a string such as '3.9 MWh', '65 J'")
WattsPerSecond = _annotated(to_watts_per_second, "ramp: W/s, or a string such as '20 MW/min'")
Hertz = _annotated(to_hertz, "frequency: Hz, or a string such as '59.5 Hz'")
HertzPerSecond = _annotated(to_hertz_per_second, "rate of change of frequency: Hz/s, or '1 Hz/s'")
USD = _annotated(to_usd, "money: US dollars, or a string such as '30000 USD'")
Bytes = _annotated(to_bytes, "data size: bytes, or a string such as '1.6 TB', '80 GiB'")
BytesPerSecond = _annotated(to_bytes_per_second, "bandwidth: B/s, or a string such as '200 GB/s'")
USDPerJoule = _annotated(to_usd_per_joule, "energy price: USD/J, or a string such as '80 USD/MWh'")
