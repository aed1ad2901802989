"""A QR code drawn from the qrcode library's module matrix into a Kivy texture,
crisp at any size (nearest-neighbour scaling of one pixel per module)."""

from __future__ import annotations

import qrcode
from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.widget import Widget

# A fixed mask skips scoring all eight masks, which takes the encoding from
# about 7 ms to about 1 ms: it runs in the frame of the tap.
_MASK = 2


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR modules for ``data``, quiet zone included, top row first."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, mask_pattern=_MASK
    )
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


def matrix_texture(matrix: list[list[bool]]) -> Texture:
    """A luminance texture with one pixel per module."""
    size = len(matrix)
    # Kivy textures start at the bottom row.
    pixels = bytes(0 if dark else 255 for row in reversed(matrix) for dark in row)
    texture = Texture.create(size=(size, size), colorfmt="luminance")
    texture.blit_buffer(pixels, colorfmt="luminance", bufferfmt="ubyte")
    texture.mag_filter = "nearest"
    texture.min_filter = "nearest"
    return texture


class QrCode(Widget):
    """Shows ``data`` as a square QR code."""

    data = StringProperty("")
    """The text encoded (the comment form's address)."""

    texture = ObjectProperty(None, allownone=True)
    """The code's texture, rebuilt when ``data`` changes."""

    def __init__(self, **kwargs):
        self._encode_soon = Clock.create_trigger(self._encode)
        super().__init__(**kwargs)

    def on_data(self, _instance: QrCode, data: str) -> None:
        # Encoding takes a millisecond or more of pure Python: it waits for
        # the next frame, so the tap that sets the address is answered at
        # once. The previous code never shows meanwhile.
        self.texture = None
        if data:
            self._encode_soon()

    def _encode(self, _dt: float = 0.0) -> None:
        self.texture = matrix_texture(qr_matrix(self.data)) if self.data else None
