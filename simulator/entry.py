"""The ``dcsim`` console entry: signals first, then the command line.

It imports nothing heavy before its handlers are in place, so Ctrl-C during start-up, or a
SIGTERM at any moment, ends dcsim with a one-line message and the usual exit status (130 for
SIGINT, 143 for SIGTERM) instead of a traceback. Both unwind like an error: worker processes
are stopped at once, and a result folder keeps its previous contents.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program stands so that cleanup runs as for Ctrl-C."""


_received: list[str] = []


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _received.append("terminated")
    raise Terminated()


def _quiet() -> None:
    """Ignore further SIGINT and SIGTERM: the command has ended and only exiting is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop() -> None:
    _quiet()  # the message below is the last word
    terminated = bool(_received)
    sys.stderr.write(f"dcsim: {'terminated' if terminated else 'interrupted'}\n")
    sys.exit(143 if terminated else 130)


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from simulator.cli import app

        app()
    except KeyboardInterrupt:  # before the command line took over: during start-up
        _stop()
    except SystemExit as exc:
        if exc.code == 130:  # the command line's own exit after Ctrl-C (or SIGTERM)
            _stop()
        _quiet()  # a signal now would turn a finished command into a killed one
        raise
    _quiet()


if __name__ == "__main__":  # pragma: no cover
    main()
