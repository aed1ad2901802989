"""Hài Lòng: the satisfaction kiosk for the one-stop counter.

The Kivy app lives in ``kiosk.app``; the rules it follows (``kiosk.config``,
``kiosk.desk``, ``kiosk.store``, ``kiosk.pin``) import no Kivy, so the tests,
the simulator and the server can use them without a screen.
"""

__version__ = "0.1.0"
