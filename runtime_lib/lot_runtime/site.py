"""The entities a generated site declares: `Action` and `Site` (routes are in
`lot_runtime.routes`).

These are plain descriptions; `lot_runtime.runner` brings them to life.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models import Model
from .routes import Route
from .triggers import Daily, Every, Once, OnChange, OnStart, OnTopic, Weekly

if TYPE_CHECKING:
    from .execution import Execution

__all__ = ["Action", "Site", "Trigger"]

Trigger = OnTopic | OnChange | Every | Weekly | Daily | Once | OnStart


@dataclass(frozen=True, slots=True)
class Action:
    """A DEFINE ACTION: a trigger and its body, or a callable (`call=`)."""

    name: str
    trigger: Trigger | None = None
    execute: Callable[[Execution], object] | None = None
    call: Callable[..., tuple[Any, ...]] | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.trigger is not None and self.execute is None:
            raise ValueError(f"action {self.name} has a trigger but no execute")


@dataclass(frozen=True, slots=True)
class Site:
    """A compiled site: its actions, models, and what it needs to run."""

    name: str
    version: str = "0.1.0"
    qos: int = 1  # from site.toml; LOT_MQTT_QOS overrides it
    actions: tuple[Action, ...] = ()
    models: tuple[Model, ...] = ()
    cache_filters: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    env: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()

    @property
    def status_topic(self) -> str:
        return f"lot/{self.name}/status"

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)
