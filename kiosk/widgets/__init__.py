"""Reusable widgets of the kiosk: smiley faces, portraits, chips, the keypad,
the QR code and the hidden long-press entry. Their look is in ``widgets.kv``."""
