"""The facility power system: load, sources, dispatch, bus frequency and protection, two solvers.

* :mod:`simulator.power.load` - facility power by job state; the iteration waveform.
* :mod:`simulator.power.dispatch`, :mod:`simulator.power.battery`, :mod:`simulator.power.socloop`
  - the slow layer: merit-order dispatch and the battery's energy along it.
* :mod:`simulator.power.residual`, :mod:`simulator.power.bus`, :mod:`simulator.power.segbus`,
  :mod:`simulator.power.transient` - the fast layer: who carries the iteration swing.
* :mod:`simulator.power.arcs`, :mod:`simulator.power.arcsolve`, :mod:`simulator.power.frequency`
  - the swing equation and governor, solved exactly; periodic orbits.
* :mod:`simulator.power.protection` - trip criteria and frequency metrics.
* :mod:`simulator.power.plant` - the event-level solver, one job segment at a time.
* :mod:`simulator.power.finestep` - the fine-step (dt <= 10 ms) solver of the same equations.
"""
