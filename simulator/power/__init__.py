"""The facility power system (DESIGN §2.4): load, sources and controller, two solvers.

* :mod:`simulator.power.load` - facility power by job state; the iteration waveform.
* :mod:`simulator.power.plant` - grid, generators, battery, controller; the event-level solver.
* :mod:`simulator.power.finestep` - the fine-step (dt <= 10 ms) solver for windows.
"""
