"""The plugin manager: loads entry points of the ``ner_toolkit`` group and collects components.

Built-in formats, trainers, predictors and scorers come through entry points of their own
distributions, exactly like a third party's. ``NER_TOOLKIT_LOAD_PLUGINS`` (comma-separated
entry-point or distribution names; empty for none) restricts which load.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from functools import cache
from typing import Literal, cast

import pluggy

from . import hookspecs
from .interfaces import Formatter, Plugin, Predictor, Scorer, Trainer

ENTRY_POINT_GROUP = "ner_toolkit"
LOAD_PLUGINS_ENV = "NER_TOOLKIT_LOAD_PLUGINS"

Kind = Literal["format", "trainer", "predictor", "scorer"]
KINDS: dict[Kind, tuple[str, type[Plugin]]] = {
    "format": ("register_formats", Formatter),
    "trainer": ("register_trainers", Trainer),
    "predictor": ("register_predictors", Predictor),
    "scorer": ("register_scorers", Scorer),
}

class PluginError(RuntimeError):
    """A plugin that cannot be loaded or used, or a component name that does not exist."""


@dataclass(frozen=True)
class Component:
    """A registered class, with the plugin module and distribution it came from."""

    kind: Kind
    name: str
    cls: type[Plugin]
    plugin: str
    distribution: str


def _wanted(entry_point: importlib.metadata.EntryPoint) -> bool:
    allowed = os.environ.get(LOAD_PLUGINS_ENV)
    if allowed is None:
        return True
    names = {name.strip() for name in allowed.split(",") if name.strip()}
    dist = entry_point.dist.name if entry_point.dist else ""
    return entry_point.name in names or dist in names


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return f"{dist.name} {dist.version}" if dist else "unknown"


@cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager with every wanted entry point loaded and checked."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if not _wanted(entry_point) or manager.has_plugin(entry_point.name):
            continue
        try:
            module = entry_point.load()
            manager.register(module, name=entry_point.name)
        except Exception as error:
            raise PluginError(
                f"plugin {entry_point.name!r} ({entry_point.value}, from {_distribution(entry_point)}) "
                f"failed to load: {error}"
            ) from error
        _DISTRIBUTIONS[entry_point.name] = _distribution(entry_point)
    # A hook implementation whose name matches no hookspec (a typo) fails here, loudly.
    manager.check_pending()
    return manager


_DISTRIBUTIONS: dict[str, str] = {}


@cache
def components() -> tuple[Component, ...]:
    """Every registered component, by kind, in entry-point order."""
    manager = plugin_manager()
    found: list[Component] = []
    seen: dict[tuple[str, str], Component] = {}
    for kind, (hook_name, base) in KINDS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():

            def register(cls: type, kind: Kind = kind, base: type = base, plugin: str = impl.plugin_name) -> None:
                if not (isinstance(cls, type) and issubclass(cls, base)):
                    raise PluginError(f"plugin {plugin!r} registered {cls!r} as a {kind}, which is not a {base.__name__} subclass")
                name = getattr(cls, "name", None)
                if not isinstance(name, str) or not name:
                    raise PluginError(f"plugin {plugin!r} registered {cls.__name__} without a name")
                component = Component(kind, name, cls, plugin, _DISTRIBUTIONS.get(plugin, "unknown"))
                if (kind, name) in seen:
                    other = seen[(kind, name)]
                    raise PluginError(
                        f"{kind} {name!r} is registered twice: by plugin {other.plugin!r} ({other.distribution}) "
                        f"and by plugin {plugin!r} ({component.distribution})"
                    )
                seen[(kind, name)] = component
                found.append(component)

            impl.function(register=register)
    return tuple(found)


def get(kind: Kind, name: str) -> type[Plugin]:
    """The class registered as ``kind`` under ``name``; the error lists what exists."""
    for component in components():
        if component.kind == kind and component.name == name:
            return component.cls
    available = ", ".join(sorted(c.name for c in components() if c.kind == kind)) or "none"
    raise PluginError(f"unknown {kind} {name!r}; available: {available}")


def get_formatter(name: str) -> type[Formatter]:
    return cast(type[Formatter], get("format", name))


def get_trainer(name: str) -> type[Trainer]:
    return cast(type[Trainer], get("trainer", name))


def get_predictor(name: str) -> type[Predictor]:
    return cast(type[Predictor], get("predictor", name))


def get_scorer(name: str) -> type[Scorer]:
    return cast(type[Scorer], get("scorer", name))


def reset() -> None:
    """Forget loaded plugins, so the next lookup reads entry points (and the env var) again."""
    plugin_manager.cache_clear()
    components.cache_clear()
    _DISTRIBUTIONS.clear()
