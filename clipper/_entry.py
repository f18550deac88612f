"""The console script's entry: signal handlers first, then the command line.

Importing the command line takes a moment (click, pydantic, the config); a Ctrl-C or SIGTERM
in that moment exits at once with the documented line and code (130, 143) instead of a
KeyboardInterrupt traceback. ``_Group.invoke`` in ``cli.py`` then takes over with handlers
that stop after saving what is done.
"""

from __future__ import annotations

from .stopping import install


def main() -> None:
    install()
    from .cli import main as cli

    cli()
