"""GPU-side smoothing of the iteration swing, and the energy each mechanism costs.

Per GPU in compute the swing is a trapezoid (:class:`simulator.power.trapezoid.Trapezoid`): the
compute level P_h (W) for t_h (s), a fall, the communication level P_l, a rise; the edges take
t_e (s) each at the GPU's natural slew ΔP/t_e, ΔP = P_h − P_l, and the period is T. The
mechanisms apply in this order, each to the waveform the previous one left:

* **Power floor** f (fraction of TDP, every state, idle GPUs too): every level ≥ f·TDP.
* **Damper** d (fraction of TDP; the software damper of dummy work during communication, as
  in PyTorch's ``PYTORCH_NO_POWERPLANT_BLOWUP``): P_l' = max(P_l, d·TDP) and the edges shorten
  to t_e' = t_e·(P_h − P_l')/ΔP (same slew). The mean of a trapezoid is
  P_l + ΔP·(t_h + t_e)/T, so the extra energy per iteration and GPU is
  T·(P_l' − P_l) + (P_h − P_l')·(t_h + t_e') − ΔP·(t_h + t_e) (J). Its throughput cost (a
  fraction c of compute throughput, user-given) slows the job: compute runs at 1/(1 + c) of
  its speed.
* **Ramp limits** ρ_up, ρ_down (W/s per GPU, as GB300's power smoothing sets them): the rise
  lasts t_r = max(t_e, ΔP/ρ_up) and the fall t_f = max(t_e, ΔP/ρ_down). The fall starts when
  communication starts (the GPU burns power to slow its fall) and the rise ends when compute
  starts (the controller ramps ahead of the periodic compute phase), so the compute plateau
  keeps its length t_h and the time at P_l shrinks. Extra energy per iteration and GPU: the two
  triangles ½·ΔP·(t_r − t_e) + ½·ΔP·(t_f − t_e) (J). When t_r + t_f > T − t_h the power never
  reaches P_l: it turns at a depth D = (T − t_h) / (1/a_up + 1/a_down) below P_h, where
  a = ΔP/t are the two slopes (W/s).

* **Rack energy storage** (power P and usable energy E per rack, shared here per GPU; the
  energy storage in GB300-class rack power supplies): it holds the rack's draw at a level m,
  delivering s(t) = clamp(L(t) − m, −P, P); m balances each iteration's charge
  (η·E[s⁻] = E[s⁺]/η, η one-way), so the losses E[s⁻] − E[s⁺] raise the site's mean; if one
  iteration's discharge T·E[s⁺] exceeds E, the power used is cut until it fits. The site sees
  S = L − s: a swing covered within P and E vanishes; the rest passes through with its levels
  moved in by P. E[min((L − m)⁺, P)] = above(m) − above(m + P) is exact; S's edges are drawn
  straight between its levels with the plateau set so its mean is exact.

A step between job states (compute → restart) is not smoothed here: these mechanisms shape
the iteration swing, which is what they are for.
"""

from __future__ import annotations

from simulator.power.battery import rates
from simulator.power.trapezoid import Trapezoid


def damp(w: Trapezoid, level_w: float) -> Trapezoid:
    """The waveform with its communication level held at ``level_w`` (W) or above."""
    if w.is_constant or level_w <= w.low:
        return w
    return w.clip_below(level_w)


def ramp_limit(w: Trapezoid, up_w_s: float | None, down_w_s: float | None) -> Trapezoid:
    """The waveform with its rise no faster than ``up_w_s`` and its fall no faster than
    ``down_w_s`` (W/s; None: unlimited), the compute plateau kept."""
    if w.is_constant or (up_w_s is None and down_w_s is None):
        return w
    dp = w.high - w.low
    rise = max(w.t_rise, dp / up_w_s) if up_w_s is not None else w.t_rise
    fall = max(w.t_fall, dp / down_w_s) if down_w_s is not None else w.t_fall
    room = w.period - w.t_high  # time between compute plateaus
    if rise + fall <= room:
        return Trapezoid(w.low, w.high, w.t_high, 0.5 * (rise + fall), w.period, fall)
    # the power turns before it reaches the communication level
    a_up, a_down = dp / rise, dp / fall  # W/s
    depth = room / (1.0 / a_up + 1.0 / a_down)
    rise, fall = depth / a_up, depth / a_down
    return Trapezoid(w.high - depth, w.high, w.t_high, 0.5 * (rise + fall), w.period, fall)


def _balanced_level(w: Trapezoid, p_w: float, eta: float) -> float:
    """The level m at which the storage ends each iteration with the charge it began with:
    η·charge = discharge/η (η one-way), by bisection (the balance falls as m rises)."""
    lo, hi = w.low, w.high
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        dis, chg = rates(w, mid, p_w)
        if eta * chg < dis / eta:
            lo = mid  # more discharge than the charge pays for: hold higher
        else:
            hi = mid
    return 0.5 * (lo + hi)


def rack_shave(w: Trapezoid, p_w: float, e_j: float, eta: float) -> Trapezoid:
    """The waveform the site sees behind storage of power ``p_w`` (W) and usable energy ``e_j``
    (J) that holds it at a level m: s(t) = clamp(L(t) − m, −P, P), S = L − s. m balances the
    charge each iteration (``eta`` one-way efficiency, so the losses raise the site's mean); if
    one iteration's discharge T·E[s⁺] exceeds the energy, the power used is cut until it fits.

    S is L with its levels moved in by P (or to m where P covers them); its edges are drawn
    straight between the new levels, with the plateau set so the mean is exact:
    mean(S) = mean(L) − E[s⁺] + E[s⁻].
    """
    if w.is_constant or p_w <= 0 or e_j <= 0:
        return w
    p = p_w
    m = _balanced_level(w, p, eta)
    if rates(w, m, p)[0] * w.period > e_j:  # energy-limited: less power, same cycle
        lo, hi = 0.0, p_w
        for _ in range(80):
            p = 0.5 * (lo + hi)
            m = _balanced_level(w, p, eta)
            if rates(w, m, p)[0] * w.period > e_j:
                hi = p
            else:
                lo = p
        p = lo
        m = _balanced_level(w, p, eta)
    dis, chg = rates(w, m, p)
    mean = w.mean - dis + chg
    high = w.high - p if w.high > m + p else m
    low = w.low + p if w.low < m - p else m
    if high - low <= 1e-9 * max(abs(w.high), 1.0):
        return Trapezoid(mean, mean, 0.0, 0.0, w.period)  # the swing is gone
    scale = (high - low) / (w.high - w.low)
    edge, fall = w.t_edge * scale, w.t_fall * scale
    t_high = (mean - low) * w.period / (high - low) - edge
    t_high = min(max(t_high, 0.0), w.period - 2 * edge)
    return Trapezoid(low, high, t_high, edge, w.period, fall)
