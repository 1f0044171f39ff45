"""earwig: a local-first transcription daemon.

Importing the package must stay cheap: `earwig status` and the TUI import it, and neither may
pull in the ML stack. Heavy modules are imported inside the backend that needs them.
"""

__version__ = "0.1.0"
