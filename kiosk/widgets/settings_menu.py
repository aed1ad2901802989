"""The menu of the technician's settings panels: Kivy's sidebar, with a
label that does not take its panel's uid as its own.

Kivy's own sidebar label stores its panel's uid in a property named ``uid``,
which hides the widget's own uid: two widgets then share one, and when they
are collected Kivy's clean-up of the second fails with a KeyError traceback.
The panels, items and config stay Kivy's own.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty
from kivy.uix.label import Label
from kivy.uix.settings import MenuSidebar

from kiosk.widgets import load_widget_kv


class PanelLabel(Label):
    """One panel's name in the menu; tapping it shows the panel."""

    selected = BooleanProperty(False)
    """This panel shows."""

    panel_uid = NumericProperty(0)
    """The uid of the panel it shows."""

    menu = ObjectProperty(None)
    """The :class:`KioskMenuSidebar` it belongs to."""

    def on_touch_down(self, touch) -> bool:
        if not self.collide_point(*touch.pos):
            return False
        self.selected = True
        self.menu.selected_uid = self.panel_uid
        return True


class KioskMenuSidebar(MenuSidebar):
    """Kivy's sidebar menu, its entries made of :class:`PanelLabel`."""

    def add_item(self, name: str, uid: int) -> None:
        label = PanelLabel(text=name, panel_uid=uid, menu=self)
        if self.buttons_layout is not None:
            if not self.buttons_layout.children:
                label.selected = True
            self.buttons_layout.add_widget(label)

    def on_selected_uid(self, *_args) -> None:
        for label in self.buttons_layout.children:
            if label.panel_uid != self.selected_uid:
                label.selected = False


load_widget_kv("settings.kv")  # Kivy's settings panels restyled, this menu with them
