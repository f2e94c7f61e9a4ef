"""The plugin manager: loads entry points of the ``ner_toolkit`` group and collects components.

Built-in readers, formats, trainers, predictors and scorers come through entry points of
their own distributions, exactly like a third party's. ``NER_TOOLKIT_LOAD_PLUGINS``
(comma-separated entry-point or distribution names; empty for none) restricts which load;
the core's own readers, tokenizers and writers (``ner-toolkit-core``) always load.

``manager()`` is the process-wide ``PluginManager``: a thin typed facade over pluggy. It is
built again by itself when the installed entry points or the environment variable change,
so nothing has to be reset by hand.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from dataclasses import dataclass
from typing import Literal, TypeVar, cast

import pluggy

from . import hookspecs
from .interfaces import Formatter, Plugin, Predictor, Reader, Scorer, SentenceSplitter, Tokenizer, Trainer, Writer

ENTRY_POINT_GROUP = "ner_toolkit"
LOAD_PLUGINS_ENV = "NER_TOOLKIT_LOAD_PLUGINS"

Kind = Literal["reader", "tokenizer", "splitter", "format", "trainer", "predictor", "scorer", "writer"]
KINDS: dict[Kind, tuple[str, type[Plugin]]] = {
    "reader": ("register_readers", Reader),
    "tokenizer": ("register_tokenizers", Tokenizer),
    "splitter": ("register_splitters", SentenceSplitter),
    "format": ("register_formats", Formatter),
    "trainer": ("register_trainers", Trainer),
    "predictor": ("register_predictors", Predictor),
    "scorer": ("register_scorers", Scorer),
    "writer": ("register_writers", Writer),
}

P = TypeVar("P", bound=Plugin)


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


CORE_DISTRIBUTION = "ner-toolkit-core"


def _wanted(entry_point: importlib.metadata.EntryPoint, allowed: str | None) -> bool:
    """Whether to load an entry point: the core's own plugins always load."""
    if allowed is None or (entry_point.dist is not None and entry_point.dist.name == CORE_DISTRIBUTION):
        return True
    names = {name.strip() for name in allowed.split(",") if name.strip()}
    dist = entry_point.dist.name if entry_point.dist else ""
    return entry_point.name in names or dist in names


def _distribution(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return f"{dist.name} {dist.version}" if dist else "unknown"


class PluginManager:
    """Every wanted entry point of the ``ner_toolkit`` group, loaded, checked and asked for its components."""

    def __init__(self, entry_points: list[importlib.metadata.EntryPoint]) -> None:
        self.pluggy = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pluggy.add_hookspecs(hookspecs)
        self.distributions: dict[str, str] = {}
        unique = list({entry_point.name: entry_point for entry_point in reversed(entry_points)}.values())
        # pluggy calls the last registered implementation first: register in reverse to call in entry-point order
        for entry_point in unique:
            where = f"plugin {entry_point.name!r} ({entry_point.value}, from {_distribution(entry_point)})"
            try:
                module = entry_point.load()
            except Exception as error:
                raise PluginError(f"{where} failed to load: {error}") from error
            try:
                self.pluggy.register(module, name=entry_point.name)
            except pluggy.PluginValidationError as error:
                raise PluginError(f"{where}: {error}") from error
            self.distributions[entry_point.name] = _distribution(entry_point)
        try:
            self.pluggy.check_pending()  # a hook implementation whose name matches no hookspec: a typo
        except pluggy.PluginValidationError as error:
            name = self.pluggy.get_name(error.plugin) or "?"
            module = getattr(error.plugin, "__name__", repr(error.plugin))
            known = ", ".join(hook for hook, _ in KINDS.values())
            raise PluginError(
                f"plugin {name!r} (module {module}) implements a hook that does not exist: {error}; the hooks are {known}"
            ) from error
        self.components = self._collect()

    def _plugin_of(self, module_name: str) -> str:
        """The plugin registered as module ``module_name`` (or, failing that, one in the same top-level package)."""
        named = {getattr(module, "__name__", ""): name for name, module in self.pluggy.list_name_plugin()}
        if module_name in named:
            return named[module_name]
        top = module_name.split(".")[0]
        return next((name for module, name in named.items() if module.split(".")[0] == top), "unknown")

    def _collect(self) -> tuple[Component, ...]:
        found: list[Component] = []
        seen: dict[tuple[str, str], Component] = {}
        for kind, (hook_name, base) in KINDS.items():

            def register(cls: type, kind: Kind = kind, base: type = base) -> None:
                plugin = self._plugin_of(sys._getframe(1).f_globals.get("__name__", ""))  # the hook that called
                if not (isinstance(cls, type) and issubclass(cls, base)):
                    raise PluginError(f"plugin {plugin!r} registered {cls!r} as a {kind}, which is not a {base.__name__} subclass")
                name = getattr(cls, "name", None)
                if not isinstance(name, str) or not name:
                    raise PluginError(f"plugin {plugin!r} registered {cls.__name__} without a name")
                component = Component(kind, name, cls, plugin, self.distributions.get(plugin, "unknown"))
                if (kind, name) in seen:
                    other = seen[(kind, name)]
                    raise PluginError(
                        f"{kind} {name!r} is registered twice: by plugin {other.plugin!r} ({other.distribution}) "
                        f"and by plugin {plugin!r} ({component.distribution})"
                    )
                seen[(kind, name)] = component
                found.append(component)

            getattr(self.pluggy.hook, hook_name)(register=register)
        return tuple(found)

    def get(self, kind: Kind, name: str) -> type[Plugin]:
        """The class registered as ``kind`` under ``name``; the error lists what exists."""
        return self.component(kind, name).cls

    def component(self, kind: Kind, name: str) -> Component:
        for component in self.components:
            if component.kind == kind and component.name == name:
                return component
        available = ", ".join(sorted(c.name for c in self.components if c.kind == kind)) or "none"
        raise PluginError(f"unknown {kind} {name!r}; available: {available}")


_current: tuple[object, PluginManager] | None = None


def manager() -> PluginManager:
    """The process-wide plugin manager, built again when the entry points or ``NER_TOOLKIT_LOAD_PLUGINS`` change."""
    global _current
    allowed = os.environ.get(LOAD_PLUGINS_ENV)
    wanted = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if _wanted(ep, allowed)]
    key = (allowed, tuple((ep.name, ep.value, _distribution(ep)) for ep in wanted))
    if _current is None or _current[0] != key:
        _current = (key, PluginManager(wanted))
    return _current[1]


def components() -> tuple[Component, ...]:
    """Every registered component, by kind, in entry-point order."""
    return manager().components


def get(kind: Kind, name: str) -> type[Plugin]:
    return manager().get(kind, name)


def _typed(kind: Kind, name: str, base: type[P]) -> type[P]:
    return cast(type[P], get(kind, name))


def get_reader(name: str) -> type[Reader]:
    return _typed("reader", name, Reader)


def get_tokenizer(name: str) -> type[Tokenizer]:
    return _typed("tokenizer", name, Tokenizer)


def get_splitter(name: str) -> type[SentenceSplitter]:
    return _typed("splitter", name, SentenceSplitter)


def get_formatter(name: str) -> type[Formatter]:
    return _typed("format", name, Formatter)


def get_trainer(name: str) -> type[Trainer]:
    return _typed("trainer", name, Trainer)


def get_predictor(name: str) -> type[Predictor]:
    return _typed("predictor", name, Predictor)


def get_scorer(name: str) -> type[Scorer]:
    return _typed("scorer", name, Scorer)


def get_writer(name: str) -> type[Writer]:
    return _typed("writer", name, Writer)
