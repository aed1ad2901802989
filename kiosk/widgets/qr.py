"""A QR code drawn from the qrcode library's module matrix into a Kivy texture,
crisp at any size (nearest-neighbour scaling of one pixel per module)."""

from __future__ import annotations

import qrcode
from kivy.graphics.texture import Texture
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.widget import Widget


def qr_texture(data: str) -> Texture:
    """A luminance texture with one pixel per QR module, quiet zone included."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
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

    def on_data(self, _instance: "QrCode", data: str) -> None:
        self.texture = qr_texture(data) if data else None
