"""Fitting a scenario's ``failures:`` block to an incident log (``dcsim fit``).

The log is a CSV of incidents ``time,unit,cause[,repair_end]``; each cause is counted per unit
kind (GPU, node or rack) of a fleet of known size over an observed window of length W.

**Rate.** With k failures of a cause over an exposure E (unit-years in service: units × W,
less the time the cause's units spent in its repairs inside the window, since a unit out of
service cannot fail again, in dcsim as in a fleet), the Poisson maximum-likelihood rate is
λ̂ = k/E per unit-year. The exact (Garwood) 95% interval inverts the Poisson tails:

    λ_lo = χ²(0.025; 2k) / (2E)   (0 when k = 0),      λ_hi = χ²(0.975; 2k + 2) / (2E),

whose coverage is at least 95% whatever λ (it is conservative: between 95% and about 99%).

**Weibull shape.** Each unit is taken as a renewal process of the cause with Weibull gaps,
S(t) = exp(−(t/θ)^β). A gap runs from the end of a failure's repair (its time when no
repair_end is given) to the unit's next failure of that cause; each unit's last gap is
right-censored at the window's end. The stretch from the window's start to a unit's first
failure is *not* a gap: the fleet was already running, so it is a forward-recurrence time, not a
lifetime. Conditioning on each unit's first failure drops it (and the units that never failed,
which carry only that kind of information), which keeps β̂ consistent whatever the units' ages
at the start. With gaps t_i, δ_i = 1 for a complete one (r of them), 0 for a censored one:

    ℓ(β, θ) = Σ δ_i [log β − β log θ + (β − 1) log t_i] − Σ (t_i/θ)^β.

For fixed β it peaks at θ̂(β)^β = Σ t_i^β / r, leaving the profile log-likelihood

    ℓ_p(β) = r log β − r log(Σ t_i^β / r) + (β − 1) Σ δ_i log t_i − r,

which is maximised by solving dℓ_p/dβ = 0 (one root). At β = 1 it is the exponential's
maximum, so the likelihood-ratio statistic LR = 2 [ℓ_p(β̂) − ℓ_p(1)] is χ²(1) under an
exponential, p = P(χ²₁ > LR); the 95% profile-likelihood interval is
{β : 2 [ℓ_p(β̂) − ℓ_p(β)] ≤ χ²(0.95; 1) = 3.841}. β is fitted only from at least 10 complete
gaps, and a Weibull is recommended only when p < 0.05.

**Repair time.** Durations d = repair_end − time > 0 get a lognormal by maximum likelihood:
μ̂ = mean(log d), σ̂² = mean((log d − μ̂)²); median e^μ̂, mean e^(μ̂ + σ̂²/2). With s² the
unbiased variance of log d, the 95% interval of the median is exp(μ̂ ± t(0.975; n−1) s/√n),
that of the mean Cox's exp(μ̂ + s²/2 ± 1.96 √(s²/n + s⁴/(2(n − 1)))). Repairs mostly of 0
(a restart on the same machines) give ``repair_time: 0``.

Sources: F. Garwood, "Fiducial limits for the Poisson distribution", Biometrika 28 (1936)
437-442; J. F. Lawless, *Statistical Models and Methods for Lifetime Data*, 2nd ed., Wiley
2003 (censored Weibull likelihood, profile likelihood, likelihood-ratio tests); W. Q. Meeker
and L. A. Escobar, *Statistical Methods for Reliability Data*, Wiley 1998 (the same, and
likelihood intervals); X.-H. Zhou and S. Gao, "Confidence intervals for the log-normal mean",
Statistics in Medicine 16 (1997) 783-790 (Cox's interval).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simulator.errors import ScenarioError
from simulator.failureconfig import RESERVED, SECONDS_PER_YEAR
from simulator.incidents import Incident, parse_window, read_incidents
from simulator.stats import estimate

KINDS = ("gpu", "node", "rack")
MIN_GAPS = 10  # complete gaps below which a shape estimate is mostly noise
SHAPE_RANGE = (0.05, 100.0)  # what a scenario accepts as weibull.shape
CHI2_95_1 = 3.841458820694124  # χ²(0.95; 1)


@dataclass(frozen=True)
class WeibullFit:
    """Censored Weibull MLE of one cause's per-unit gaps; times in s."""

    shape: float
    shape_ci95: tuple[float | None, float | None]  # None: the interval is open on that side
    scale_s: float
    mean_s: float
    loglik: float
    loglik_exponential: float
    lr: float
    p_value: float
    gaps: int  # complete
    censored: int


@dataclass(frozen=True)
class RepairFit:
    """Repair durations of one cause: ``model`` is none, zero, fixed or lognormal; times in s."""

    n: int
    zero: int
    model: str
    mu: float | None = None  # of log seconds
    sigma: float | None = None
    median_s: float | None = None
    mean_s: float | None = None
    median_ci95_s: tuple[float, float] | None = None
    mean_ci95_s: tuple[float, float] | None = None


@dataclass
class CauseFit:
    """Everything fitted for one cause; rates per unit-year."""

    name: str
    per: str
    units: int
    units_failed: int
    k: int
    exposure_unit_years: float
    downtime_unit_years: float
    rate_per_year: float
    rate_ci95: tuple[float, float]
    weibull: WeibullFit | None
    weibull_recommended: bool
    overlaps: int  # failures before the previous repair had ended: no gap
    repair: RepairFit
    # the data behind the fit, for the plot (not written to fit.json)
    gaps_s: list[float] = field(default_factory=list, repr=False)
    gap_complete: list[bool] = field(default_factory=list, repr=False)
    durations_s: list[float] = field(default_factory=list, repr=False)


@dataclass
class FitResult:
    source: str
    incidents: int  # inside the window
    outside_window: int
    iso: bool  # times were ISO-8601 timestamps
    window_start_s: float
    window_end_s: float
    window_years: float
    window_note: str
    fleet: dict[str, int]
    gpus_per_node: int
    nodes_per_rack: int
    causes: list[CauseFit]


def poisson_ci(k: int, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Garwood's exact interval of a Poisson rate: k events over ``exposure``, per its unit."""
    from scipy.stats import chi2

    a = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(chi2.ppf(a, 2 * k)) / 2.0
    return lo / exposure, float(chi2.ppf(1.0 - a, 2 * k + 2)) / 2.0 / exposure


def weibull_fit(times: Sequence[float], complete: Sequence[bool]) -> WeibullFit | None:
    """Censored Weibull MLE (profile likelihood in β) with the LR test against β = 1; None
    with fewer than :data:`MIN_GAPS` complete gaps. Times in s; zero-length gaps are left out."""
    from scipy.optimize import brentq
    from scipy.special import logsumexp
    from scipy.stats import chi2

    t, d = np.asarray(times, float), np.asarray(complete, bool)
    t, d = t[t > 0], d[t > 0]
    r = int(d.sum())
    if r < MIN_GAPS or np.ptp(t[d]) == 0:
        return None
    ref = float(t.max())
    logt = np.log(t / ref)  # ≤ 0, so t^β cannot overflow for any β
    sum_ev = float(logt[d].sum())

    def prof(b: float) -> float:
        return r * math.log(b) - r * (float(logsumexp(b * logt)) - math.log(r)) + (b - 1) * sum_ev - r

    def score(log_b: float) -> float:
        b = math.exp(log_b)
        w = np.exp(b * logt - logsumexp(b * logt))
        return r / b + sum_ev - r * float(w @ logt)

    lo_b, hi_b = math.log(1e-3), math.log(1e3)
    if score(lo_b) <= 0 or score(hi_b) >= 0:
        return None  # no interior maximum: the data say nothing usable about a shape
    shape = math.exp(brentq(score, lo_b, hi_b, xtol=1e-12))
    top = prof(shape)

    def drop(log_b: float) -> float:
        return top - prof(math.exp(log_b)) - CHI2_95_1 / 2

    ends = [math.exp(brentq(drop, a, b, xtol=1e-10)) if drop(edge) > 0 else None
            for a, b, edge in ((lo_b, math.log(shape), lo_b), (math.log(shape), hi_b, hi_b))]
    scale = ref * math.exp((float(logsumexp(shape * logt)) - math.log(r)) / shape)
    lr = max(0.0, 2.0 * (top - prof(1.0)))
    shift = r * math.log(ref)  # the log-likelihood of times in s, not in units of ref
    return WeibullFit(shape, (ends[0], ends[1]), scale, scale * math.gamma(1 + 1 / shape),
                      top - shift, prof(1.0) - shift, lr, float(chi2.sf(lr, 1)), r,
                      len(t) - r)


def repair_fit(durations: Sequence[float]) -> RepairFit:
    """Lognormal MLE of the repair durations (s); ``zero`` when most are 0, ``fixed`` (at the
    mean) when fewer than two distinct positive ones."""
    d = np.asarray(durations, float)
    pos = d[d > 0]
    n, zero = len(d), len(d) - len(pos)
    if n == 0:
        return RepairFit(0, 0, "none")
    if zero >= len(pos):
        return RepairFit(n, zero, "zero", median_s=0.0, mean_s=float(d.mean()))
    logs = np.log(pos)
    if len(pos) < 2 or np.ptp(logs) < 1e-9:  # equal but for rounding (end − start in floats)
        return RepairFit(n, zero, "fixed", mean_s=float(d.mean()))
    m = len(pos)
    est = estimate(logs)  # mean, sample std and t-interval of the log durations
    mu, sigma, s = est.mean, float(logs.std()), est.std
    cox = 1.959963984540054 * math.sqrt(s**2 / m + s**4 / (2 * (m - 1)))
    return RepairFit(n, zero, "lognormal", mu, sigma, math.exp(mu), math.exp(mu + sigma**2 / 2),
                     (math.exp(est.ci95_low), math.exp(est.ci95_high)),
                     (math.exp(mu + s**2 / 2 - cox), math.exp(mu + s**2 / 2 + cox)))


def unit_gaps(incidents: Sequence[Incident], end_s: float) -> tuple[list[float], list[bool], float, int]:
    """One cause's per-unit gaps (s), whether each is complete, the time (s) its units spent in
    its repairs before ``end_s``, and the failures that came before the previous repair ended."""
    by_unit: dict[str, list[Incident]] = {}
    for inc in incidents:
        by_unit.setdefault(inc.unit, []).append(inc)
    gaps: list[float] = []
    complete: list[bool] = []
    down, overlaps = 0.0, 0
    for rows in by_unit.values():
        rows.sort(key=lambda i: i.time_s)
        back: float | None = None  # when the unit was last back in service
        for inc in rows:
            if back is not None and inc.time_s > back:
                gaps.append(inc.time_s - back)
                complete.append(True)
            elif back is not None:
                overlaps += 1
            up = inc.time_s if inc.repair_end_s is None else inc.repair_end_s
            down += max(0.0, min(up, end_s) - max(inc.time_s, back or 0.0))  # overlaps once
            back = up if back is None else max(back, up)
        if back is not None and back < end_s:
            gaps.append(end_s - back)
            complete.append(False)
    return gaps, complete, down, overlaps


def fit_log(path: Path, gpus: int, per: Mapping[str, str] | None = None, gpus_per_node: int = 8,
            nodes_per_rack: int = 4, window: str | None = None) -> FitResult:
    """Fit every cause of the incident log at ``path`` for a fleet of ``gpus`` GPUs.

    ``per`` maps a cause to its unit kind (default node); ``window`` is ``START:END`` (default:
    0, or the first incident for ISO times, to the last incident). Raises ScenarioError
    listing every problem."""
    kinds = dict(per or {})
    problems = [f"--per {c}={k}: unknown unit kind (use gpu, node or rack)"
                for c, k in kinds.items() if k not in KINDS]
    if gpus <= 0 or gpus_per_node <= 0 or nodes_per_rack <= 0 or gpus % gpus_per_node:
        problems.append(f"--gpus {gpus}: must be a positive multiple of --gpus-per-node "
                        f"({gpus_per_node}), as in a scenario's cluster")
    start = end = win_iso = None
    if window is not None:
        try:
            start, end, win_iso = parse_window(window)
        except ValueError as exc:
            problems.append(f"--window {window}: {exc}")
    try:
        incidents, iso = read_incidents(path)
    except ScenarioError as exc:
        raise ScenarioError(problems + exc.problems) from None
    if win_iso is not None and win_iso != iso:
        problems.append(f"--window {window}: give {'timestamps' if iso else 'durations'}, as "
                        f"the log's times")
    # a cause named in --per but absent from the log is fitted with k = 0: its interval still
    # bounds the rate (and a log of quiet months keeps the causes of the others)
    names = list(dict.fromkeys([i.cause for i in incidents] + list(kinds)))
    for reserved in sorted(RESERVED):  # the names a scenario refuses for a cause
        lines = [i.line for i in incidents if i.cause == reserved]
        if lines:
            problems.append(f"{path}:{lines[0]}: cause: {reserved!r} is a reserved cause name in "
                            f"a scenario ({len(lines)} rows); rename or leave out these rows")
    times = [i.time_s for i in incidents]
    note = ("given" if None not in (start, end) else
            f"start: {'given' if start is not None else 'the first incident' if iso else '0'}, "
            f"end: {'given' if end is not None else 'the last incident'}")
    start = (min(times) if iso else 0.0) if start is None else start
    end = max(times) if end is None else end
    if end <= start:
        problems.append(f"--window: the observed window {start:g} s to {end:g} s is empty")
    nodes = gpus // gpus_per_node if gpus_per_node > 0 else 0
    fleet = {"gpu": gpus, "node": nodes, "rack": math.ceil(nodes / max(nodes_per_rack, 1))}
    inside = [i for i in incidents if start <= i.time_s <= end]
    for name in names:
        kind = kinds.get(name, "node")
        if kind not in fleet:  # an unknown kind: listed above
            continue
        failed = len({i.unit for i in inside if i.cause == name})
        if failed > fleet[kind]:
            problems.append(f"{path}: cause {name!r}: {failed:,} distinct units failed, but the "
                            f"fleet has {fleet[kind]:,} {kind}s (check --per {name}= and --gpus)")
    if problems:
        raise ScenarioError(problems)
    width = end - start
    causes = [_fit_cause(n, kinds.get(n, "node"), fleet, [i for i in inside if i.cause == n],
                         width, end) for n in names]
    causes.sort(key=lambda c: (-c.k, c.name))
    return FitResult(str(path), len(inside), len(incidents) - len(inside), iso, start, end,
                     width / SECONDS_PER_YEAR, note, fleet, gpus_per_node, nodes_per_rack, causes)


def _fit_cause(name: str, per: str, fleet: dict[str, int], rows: list[Incident],
               width_s: float, end_s: float) -> CauseFit:
    gaps, complete, down, overlaps = unit_gaps(rows, end_s)
    exposure = (fleet[per] * width_s - down) / SECONDS_PER_YEAR
    if exposure <= 0:
        raise ScenarioError([f"cause {name!r}: every {per} was in repair for the whole window: "
                             f"no exposure to fit a rate to (check --gpus and the window)"])
    k = len(rows)
    weib = weibull_fit(gaps, complete)
    recommend = (weib is not None and weib.p_value < 0.05
                 and SHAPE_RANGE[0] <= weib.shape <= SHAPE_RANGE[1])
    durations = [i.repair_end_s - i.time_s for i in rows if i.repair_end_s is not None]
    return CauseFit(name, per, fleet[per], len({i.unit for i in rows}), k, exposure,
                    down / SECONDS_PER_YEAR, k / exposure, poisson_ci(k, exposure), weib,
                    recommend, overlaps, repair_fit(durations), gaps, complete, durations)
