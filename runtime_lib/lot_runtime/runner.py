"""Running a site: the command line, message dispatch, timers and shutdown.

`main(site)` is the entry point of a generated site (`<site> run`). A
`Runner` wires the site's actions to one `Connection`: trigger and cache
filters are subscribed, each message updates the topic cache and runs the
matching actions inline, timers start once the site is online, and SIGINT or
SIGTERM stops it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from .config import ConfigError, RunSettings, load_settings
from .execution import SiteState
from .mqtt import Connection
from .routes import Route, RouteContext
from .site import Action, Site
from .topics import Dispatcher
from .triggers import Daily, Every, Once, OnChange, OnStart, OnTopic, Weekly, run_timer

__all__ = ["Runner", "main"]

log = logging.getLogger("lot")


class _Cache:
    """Dispatch target of a cache filter: the message only feeds the cache."""


_CACHE = _Cache()


class _RouteTarget:
    """Dispatch target of a route filter: the message is handed to the route,
    with its retain flag when the route's deliver() takes `retain`."""

    __slots__ = ("deliver", "route", "takes_retain")

    def __init__(self, route: Route) -> None:
        self.route = route
        # Typed loosely: `retain` is an optional extension of the protocol.
        self.deliver: Callable[..., None] = route.deliver
        self.takes_retain = _takes_retain(route)


def _takes_retain(route: Route) -> bool:
    try:
        parameters = inspect.signature(route.deliver).parameters.values()
    except (TypeError, ValueError):  # no signature to read: play safe
        return False
    return any(
        (p.name == "retain" and p.kind is not p.POSITIONAL_ONLY)
        or p.kind is p.VAR_KEYWORD
        for p in parameters
    )


class _OnChange:
    """An ON CHANGE action and the last payload it saw per concrete topic."""

    __slots__ = ("action", "last")

    def __init__(self, action: Action) -> None:
        self.action = action
        self.last: dict[str, bytes] = {}


class Runner:
    """One running site (or the `only` part of it) on one connection."""

    def __init__(
        self, site: Site, settings: RunSettings, only: Sequence[str] = ()
    ) -> None:
        self.site = site
        self.settings = settings
        self.actions = tuple(a for a in site.actions if not only or a.name in only)
        self.routes = tuple(r for r in site.routes if not only or r.name in only)
        self.state = SiteState(
            qos=settings.connection.qos, env=settings.env, secrets=settings.secrets
        )
        self.dispatcher: Dispatcher[Action | _OnChange | _Cache | _RouteTarget] = (
            Dispatcher()
        )
        for topic_filter in site.cache_filters:
            self.dispatcher.add(topic_filter, _CACHE)
        for action in self.actions:
            if isinstance(action.trigger, OnTopic):
                self.dispatcher.add(action.trigger.filter, action)
            elif isinstance(action.trigger, OnChange):
                self.dispatcher.add(action.trigger.filter, _OnChange(action))
        for route in self.routes:
            target = _RouteTarget(route)
            for topic_filter in route.filters:
                self.dispatcher.add(topic_filter, target)
        # Routes that buffer what deliver() took write it down before the
        # site acknowledges it (once per read, not once per message).
        flushes = [f for r in self.routes if callable(f := getattr(r, "flush", None))]
        self.connection = Connection(
            settings.connection,
            filters=self.dispatcher.filters,
            on_message=self.on_message,
            on_ready=self._start_timers,
            before_acknowledging=_all_of(flushes) if flushes else None,
        )
        self.state.sink = self.connection.send
        self._timers: list[asyncio.Task[None]] = []
        self._routes: list[asyncio.Task[None]] = []
        self._logged: set[tuple[str, ...]] = set()
        # Per-message detail costs a call even when not emitted: decided once.
        self._debug = log.isEnabledFor(logging.DEBUG)

    def on_message(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Handle one message: feed the cache, then run each matching action
        and hand it to each matching route."""
        state = self.state
        routes = self.dispatcher.lookup(topic)
        if self._debug:
            log.debug(
                "message on %s (%d bytes, %d routes)", topic, len(payload), len(routes)
            )
        for target, captures in routes:
            if target is _CACHE:
                state.cache[topic] = payload.decode("utf-8", errors="replace")
            elif isinstance(target, _OnChange):
                if target.last.get(topic) == payload:
                    continue
                target.last[topic] = payload
                self._execute(target.action, topic, payload, captures)
            elif isinstance(target, Action):
                self._execute(target, topic, payload, captures)
            elif isinstance(target, _RouteTarget):
                self._deliver(target, topic, payload, retain)

    def _deliver(
        self, target: _RouteTarget, topic: str, payload: bytes, retain: bool
    ) -> None:
        route = target.route
        try:
            if target.takes_retain:
                target.deliver(topic, payload, retain=retain)
            else:
                target.deliver(topic, payload)
        except Exception as exc:
            self.state.stats["route_failures"] += 1
            key = ("deliver", route.name, type(exc).__name__)
            if key not in self._logged:
                self._logged.add(key)
                log.warning(
                    "route %s could not take a message on %s: %s: %s",
                    route.name,
                    topic,
                    type(exc).__name__,
                    exc,
                )

    def _execute(
        self,
        action: Action,
        topic: str = "",
        payload: bytes = b"",
        captures: tuple[str, ...] = (),
    ) -> None:
        assert action.execute is not None
        self.state.execute(action.name, action.execute, topic, payload, captures)

    def _start_timers(self) -> None:
        for action in self.actions:
            trigger = action.trigger
            if isinstance(trigger, Every | Weekly | Daily | Once):
                task = asyncio.create_task(
                    run_timer(trigger, functools.partial(self._execute, action)),
                    name=f"lot-timer-{action.name}",
                )
                self._timers.append(task)
        for action in self.actions:
            if isinstance(action.trigger, OnStart):
                self._execute(action)

    def stop_timers(self) -> None:
        for task in self._timers:
            task.cancel()

    def _start_routes(self) -> None:
        for route in self.routes:
            context = RouteContext(
                site=self.site.name,
                route=route.name,
                publish=self.connection.send,
                qos=self.state.qos,
                env=self.state.env,
                secrets=self.state.secrets,
                state_dir=self.settings.state_dir,
                hold=self.connection.defer,
                release=self.connection.release,
                online=lambda: self.connection.online,
            )
            task = asyncio.create_task(
                _supervise(route, context), name=f"lot-route-{route.name}"
            )
            self._routes.append(task)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then flush and publish `offline`."""
        self._start_routes()
        watcher = asyncio.create_task(self._stop_on(stop), name="lot-stop-timers")
        try:
            await self.connection.run(stop)
        finally:
            watcher.cancel()
            self.stop_timers()
            for task in self._routes:
                task.cancel()
            await asyncio.gather(*self._timers, *self._routes, return_exceptions=True)

    async def _stop_on(self, stop: asyncio.Event) -> None:
        """Stop timers and routes first, so what they hand over is still sent."""
        await stop.wait()
        self.stop_timers()
        for task in self._routes:
            task.cancel()
        await asyncio.gather(*self._routes, return_exceptions=True)


def _all_of(calls: list[Callable[[], None]]) -> Callable[[], None]:
    if len(calls) == 1:
        return calls[0]

    def every() -> None:
        for call in calls:
            call()

    return every


# A route whose run() fails is started again after this many seconds, doubled
# on each failure in a row up to the cap.
_ROUTE_RETRY = 0.5
_ROUTE_RETRY_CAP = 30.0


async def _supervise(route: Route, context: RouteContext) -> None:
    """Run a route for the life of the site, restarting it when it fails."""
    delay = _ROUTE_RETRY
    while True:
        try:
            await route.run(context)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            context.status(f"error: {type(exc).__name__}: {exc}")
            log.error(
                "route %s failed (%s: %s); restarting in %.1f s",
                route.name,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _ROUTE_RETRY_CAP)


def _parser(site: Site) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=site.name, description=f"Run the LoT site {site.name} {site.version}."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="connect to the broker and run the site")
    run.add_argument("--broker", metavar="URL", help="overrides LOT_BROKER_URL")
    run.add_argument(
        "--only", metavar="ENTITY", nargs="+", default=[], help="run only these actions"
    )
    return parser


def _configure_logging(level: int) -> None:
    logger = logging.getLogger("lot")
    logger.setLevel(level)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        logger.addHandler(handler)


def main(
    site: Site, argv: Sequence[str] | None = None, only: Sequence[str] = ()
) -> int:
    """The command line of a generated site; returns the exit status."""
    try:
        args = _parser(site).parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    selected = tuple(dict.fromkeys([*only, *args.only]))
    known = {action.name for action in site.actions}
    known |= {route.name for route in site.routes}
    unknown = [name for name in selected if name not in known]
    if unknown:
        print(
            f"{site.name}: error: unknown entity {', '.join(unknown)}; "
            f"the site has: {', '.join(sorted(known)) or 'none'}",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings(site, broker=args.broker, only=selected)
    except ConfigError as exc:
        print(f"{site.name}: error: cannot start:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2

    _configure_logging(settings.log_level)
    return asyncio.run(_serve(site, settings, selected))


async def _serve(site: Site, settings: RunSettings, only: Sequence[str]) -> int:
    runner = Runner(site, settings, only)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):

        def on_signal(signum: int = signum) -> None:
            if not stop.is_set():
                log.info("stopping on %s", signal.Signals(signum).name)
            stop.set()

        loop.add_signal_handler(signum, on_signal)
    log.info(
        "starting %s %s: %d actions, %d routes, broker %s",
        site.name,
        site.version,
        len(runner.actions),
        len(runner.routes),
        settings.connection.broker,
    )
    await runner.run(stop)
    log.info("stopped %s", site.name)
    return 0
