"""What the kiosk's controllers know of the display: which screen shows, and
the words of the language shown now.

The controllers (:mod:`kiosk.visit`, :mod:`kiosk.staff`,
:mod:`kiosk.technician`, :mod:`kiosk.sync_control`) never reach into the
widget tree: they ask a :class:`Navigator` for a screen by name and tell it
what to show. The app hands them a :class:`ScreenNavigator` over its screen
manager; tests hand them a fake that draws nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

from kiosk import i18n

__all__ = ["CatalogueWords", "Navigator", "ScreenNavigator", "Words"]


class Navigator(Protocol):
    """Brings screens to the front, by name."""

    @property
    def current(self) -> str:
        """The name of the screen showing now."""
        ...

    def screen(self, name: str) -> Any:
        """The screen called ``name``, shown or not."""
        ...

    def show(self, name: str) -> Any:
        """Bring ``name`` to the front and return it."""
        ...


class Words(Protocol):
    """The words of the language shown now."""

    language: str

    def tr(self, key: str, **values: Any) -> str:
        """The catalogue's words for ``key``, values filled in."""
        ...


class CatalogueWords:
    """:class:`Words` straight from the catalogues, for use without the app."""

    def __init__(self, language: str = "vi"):
        self.language = language

    def tr(self, key: str, **values: Any) -> str:
        """Translate ``key`` into :attr:`language`."""
        return i18n.catalogue(self.language).get(key, **values)


class ScreenNavigator:
    """A :class:`Navigator` over Kivy's screen manager, from the moment the
    app has built it."""

    def __init__(self) -> None:
        self.manager = None

    def attach(self, manager) -> None:
        """Navigate ``manager`` (a :class:`kivy.uix.screenmanager.ScreenManager`)."""
        self.manager = manager

    @property
    def ready(self) -> bool:
        """The screens exist (the app is built)."""
        return self.manager is not None

    @property
    def current(self) -> str:
        """The name of the screen showing now."""
        return self.manager.current

    def screen(self, name: str):
        """The screen called ``name``."""
        return self.manager.get_screen(name)

    def built(self, name: str):
        """The screen called ``name`` if it is built already, else ``None``
        (:meth:`screen` builds it)."""
        return self.manager.built(name)

    def show(self, name: str):
        """Bring ``name`` to the front and return it."""
        self.manager.current = name
        return self.manager.get_screen(name)
