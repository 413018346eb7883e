"""Quantities with units in scenario files: everything becomes SI floats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.units import (
    CEILINGS,
    ENERGY_UNITS,
    MONEY_UNITS,
    POWER_UNITS,
    TIME_UNITS,
    UnitError,
    to_joules,
    to_seconds,
    to_usd,
    to_usd_per_joule,
    to_watts,
    to_watts_per_second,
)

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30 s", 30.0),
        ("10 min", 600.0),
        ("2 h", 7200.0),
        ("54 d", 54 * DAY),
        ("1 yr", 365 * DAY),
        ("1 year", 365 * DAY),
        ("100 ms", 0.1),
        ("1 wk", 7 * DAY),
        ("5.5 d", 475_200.0),
        ("0.85 d", 73_440.0),
        ("10min", 600.0),  # the space is optional
        ("  2 h  ", 7200.0),  # surrounding blanks are ignored
        ("1e3 s", 1000.0),
        ("600", 600.0),  # a bare number in a string is SI
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert to_seconds(text) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize("number", [0, 42, 600.0, 1.5e7, 0.25])
def test_plain_numbers_are_si(number: float) -> None:
    for convert in (to_seconds, to_watts, to_joules, to_usd, to_watts_per_second):
        value = convert(number)
        assert isinstance(value, float)
        assert value == float(number)
    # an energy price in USD/J is tiny (80 USD/MWh = 2.2e-8 USD/J)
    assert to_usd_per_joule(number * 1e-12) == number * 1e-12


@pytest.mark.parametrize(
    ("text", "watts"),
    [("700 W", 700.0), ("1.4 kW", 1400.0), ("115 MW", 115e6), ("979 kW", 979e3),
     ("1 GW", 1e9), ("15 MW", 15e6)],
)
def test_power(text: str, watts: float) -> None:
    assert to_watts(text) == pytest.approx(watts, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "joules"),
    [("3.9 MWh", 3.9 * 3.6e9), ("65 J", 65.0), ("3916 kWh", 3916 * 3.6e6), ("1 Wh", 3600.0),
     ("2 MJ", 2e6), ("1 GWh", 3.6e12)],
)
def test_energy(text: str, joules: float) -> None:
    assert to_joules(text) == pytest.approx(joules, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "watts_per_second"),
    [("0.5 MW/s", 5e5), ("20 MW/min", 20e6 / 60.0), ("25 MW/min", 25e6 / 60.0),
     ("1 kW/s", 1e3), ("60 MW/h", 60e6 / 3600.0)],
)
def test_ramp(text: str, watts_per_second: float) -> None:
    assert to_watts_per_second(text) == pytest.approx(watts_per_second, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "usd"),
    [("30000 USD", 30_000.0), ("10e6 USD", 1e7), ("5 $", 5.0), ("2 kUSD", 2000.0),
     ("3 MUSD", 3e6), ("30_000 USD", 30_000.0)],
)
def test_money(text: str, usd: float) -> None:
    assert to_usd(text) == pytest.approx(usd, rel=1e-12)


def test_energy_price() -> None:
    per_joule = to_usd_per_joule("80 USD/MWh")
    assert per_joule == pytest.approx(80.0 / 3.6e9, rel=1e-12)
    # the same price written per kWh
    assert to_usd_per_joule("0.08 USD/kWh") == pytest.approx(per_joule, rel=1e-12)
    # 1 MWh at that price costs 80 USD
    assert per_joule * to_joules("1 MWh") == pytest.approx(80.0, rel=1e-12)


@pytest.mark.parametrize(
    ("convert", "text", "bad_unit"),
    [
        (to_seconds, "10 kW", "kW"),
        (to_seconds, "3 MWh", "MWh"),
        (to_seconds, "5 fortnights", "fortnights"),
        (to_watts, "3 MWh", "MWh"),
        (to_watts, "5 min", "min"),
        (to_watts, "1.4 kw", "kw"),  # units are case-sensitive: kw is not kW
        (to_joules, "5 MW", "MW"),
        (to_joules, "2 h", "h"),
        (to_usd, "5 EUR", "EUR"),
        (to_watts_per_second, "20 MWh/min", "MWh/min"),
        (to_watts_per_second, "20 MW/fortnight", "MW/fortnight"),
        (to_watts_per_second, "10 s/MW", "s/MW"),
        (to_usd_per_joule, "80 EUR/MWh", "EUR/MWh"),
        (to_usd_per_joule, "80 USD/MW", "USD/MW"),
        (to_usd_per_joule, "80 USD", "USD"),
    ],
)
def test_wrong_unit_names_the_unit(convert, text: str, bad_unit: str) -> None:
    with pytest.raises(UnitError) as info:
        convert(text)
    assert f"'{bad_unit}'" in str(info.value)


def test_ramp_without_per_time_is_rejected() -> None:
    # a bare power is not a ramp rate: the user forgot "/s" or "/min"
    with pytest.raises(UnitError) as info:
        to_watts_per_second("20 MW")
    msg = str(info.value)
    assert "20 MW" in msg
    assert "/s" in msg or "/min" in msg


@pytest.mark.parametrize("value", ["ten minutes", "", "min", "5 5 min", "1.2.3 s", None, [1],
                                   {"a": 1}, True, False])
def test_unreadable_values(value: object) -> None:
    with pytest.raises(UnitError):
        to_seconds(value)


def test_unit_error_is_a_value_error() -> None:
    # pydantic turns ValueError raised in validators into a validation message
    assert issubclass(UnitError, ValueError)


def test_unit_tables() -> None:
    assert TIME_UNITS["yr"] == 365 * DAY
    assert TIME_UNITS["d"] == DAY
    assert TIME_UNITS["min"] == MINUTE
    assert POWER_UNITS["MW"] == 1e6
    assert ENERGY_UNITS["kWh"] == 3.6e6
    assert MONEY_UNITS["USD"] == 1.0


_TABLES = [
    (to_seconds, TIME_UNITS),
    (to_watts, POWER_UNITS),
    (to_joules, ENERGY_UNITS),
    (to_usd, MONEY_UNITS),
]
_numbers = st.one_of(
    st.integers(min_value=-10**9, max_value=10**9),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
)


@given(number=_numbers, table=st.sampled_from(range(len(_TABLES))), data=st.data(),
       space=st.sampled_from(["", " ", "  "]))
def test_number_times_unit_factor(number: float, table: int, data: st.DataObject,
                                  space: str) -> None:
    convert, units = _TABLES[table]
    unit = data.draw(st.sampled_from(sorted(units)))
    text = f"{number}{space}{unit}"
    expected = float(number) * units[unit]
    kind = {to_seconds: "duration", to_watts: "power", to_joules: "energy", to_usd: "money"}
    if abs(expected) > CEILINGS[kind[convert]][0]:
        with pytest.raises(UnitError, match="beyond any plausible"):
            convert(text)
        return
    assert convert(text) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@given(number=st.floats(min_value=0, max_value=1e6, allow_nan=False),
       power=st.sampled_from(sorted(POWER_UNITS)), time=st.sampled_from(sorted(TIME_UNITS)))
def test_ramp_is_power_over_time(number: float, power: str, time: str) -> None:
    expected = number * POWER_UNITS[power] / TIME_UNITS[time]
    if expected > CEILINGS["ramp"][0]:
        with pytest.raises(UnitError, match="beyond any plausible ramp"):
            to_watts_per_second(f"{number} {power}/{time}")
        return
    assert to_watts_per_second(f"{number} {power}/{time}") == pytest.approx(expected, rel=1e-12,
                                                                             abs=1e-300)
