"""Spoken prompts: the question, the reasons' question and the thanks, read
aloud for citizens who do not read the screen easily.

Off unless the ``voice`` settings turn it on. Each prompt is an audio file,
one per language: the commune's own recording when ``voice.directory`` holds
one (``vi/question.wav``), else the placeholder shipped in ``assets/voice/``
(made offline with espeak-ng, see ``assets/voice/make-placeholders.sh``).
A tablet without audio, or a missing file, stays silent: the screen says it all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.config import VoiceSettings

__all__ = ["PROMPTS", "PLACEHOLDERS", "Voice"]

PROMPTS = ("question", "reasons_low", "reasons_high", "thanks")
"""The prompts a tablet can speak; each is ``<language>/<prompt>.<ext>``."""

PLACEHOLDERS = Path(__file__).resolve().parents[1] / "assets" / "voice"
_EXTENSIONS = (".wav", ".ogg")

log = logging.getLogger(__name__)


def _load_with_kivy(path: str) -> Any:
    from kivy.core.audio import SoundLoader

    return SoundLoader.load(path)


class Voice:
    """Plays the prompts at the set volume, one at a time."""

    def __init__(
        self,
        settings: VoiceSettings,
        *,
        placeholders: Path = PLACEHOLDERS,
        load: Callable[[str], Any] = _load_with_kivy,
    ) -> None:
        self.settings = settings
        self._placeholders = placeholders
        self._load = load
        self._sounds: dict[Path, Any] = {}  # loaded once; None when it cannot be played
        self._playing: tuple[str, Any] | None = None
        self._pending = None
        self._current: str | None = None  # what is being said, or is about to be

    def file_for(self, prompt: str, language: str) -> Path | None:
        """The file spoken for ``prompt`` in ``language``: the commune's own
        recording first, then the placeholder; Vietnamese when the language
        has none; None when there is nothing to play."""
        if prompt not in PROMPTS:
            raise ValueError(f"no spoken prompt {prompt!r}")
        folders = [d for d in (self.settings.directory, self._placeholders) if d is not None]
        for lang in dict.fromkeys((language, "vi")):
            for folder in folders:
                for ext in _EXTENSIONS:
                    path = folder / lang / f"{prompt}{ext}"
                    if path.is_file():
                        return path
        return None

    def say(self, prompt: str, language: str, *, after_s: float = 0.0) -> bool:
        """Speak ``prompt`` (after ``after_s`` seconds, e.g. once a chime has
        rung), cutting short whatever is being said. Returns whether it will
        be heard: False when the voice is off, or no file or audio exists."""
        self.stop()
        if not self.settings.enabled or self.settings.volume == 0:
            return False
        path = self.file_for(prompt, language)
        sound = self._sound(path) if path is not None else None
        if sound is None:
            return False
        self._current = prompt
        if after_s > 0:
            from kivy.clock import Clock

            self._pending = Clock.schedule_once(lambda _dt: self._play(prompt, sound), after_s)
        else:
            self._play(prompt, sound)
        return True

    def stop(self, prompt: str | None = None) -> None:
        """Silence: the screen the prompt belonged to has gone. With
        ``prompt``, only if that is what is being said (the next screen may
        already have begun its own)."""
        if prompt is not None and prompt != self._current:
            return
        self._current = None
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._playing is not None:
            self._playing[1].stop()
            self._playing = None

    @property
    def speaking(self) -> str | None:
        """The prompt being played now, or None."""
        if self._playing is None or self._playing[1].state != "play":
            return None
        return self._playing[0]

    def _play(self, prompt: str, sound: Any) -> None:
        self._pending = None
        sound.volume = self.settings.volume / 100
        sound.play()
        self._playing = (prompt, sound)

    def _sound(self, path: Path) -> Any:
        if path not in self._sounds:
            try:
                self._sounds[path] = self._load(str(path)) or None
            except Exception:  # no audio on this device, or a file it cannot decode
                log.warning("spoken prompt %s cannot be played", path.name)
                self._sounds[path] = None
        return self._sounds[path]
