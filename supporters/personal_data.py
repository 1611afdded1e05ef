"""Where the apps above `supporters` plug into subject-access exports and erasure.

`supporters` sits on the lowest floor and may not import `donations` or
`campaigns`, yet a subject-access export must list a supporter's gifts and an
erasure must scrub the names on them. Each upper app registers, from its
AppConfig.ready(), a section function (supporter -> JSON-ready data) and an
eraser (supporter -> None, run inside the erasure's transaction)."""

from collections.abc import Callable
from typing import Any

_sections: dict[str, Callable[[Any], Any]] = {}
_erasers: list[Callable[[Any], None]] = []


def register_section(title: str, build: Callable[[Any], Any]) -> None:
    _sections[title] = build


def register_eraser(erase: Callable[[Any], None]) -> None:
    if erase not in _erasers:
        _erasers.append(erase)


def sections() -> dict[str, Callable[[Any], Any]]:
    return dict(_sections)


def erasers() -> list[Callable[[Any], None]]:
    return list(_erasers)
