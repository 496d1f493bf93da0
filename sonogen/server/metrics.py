"""Request timings in the log and Prometheus metrics at ``GET /metrics``.

:class:`RequestTiming` (pure ASGI middleware, the outermost layer of the app) times every
request, and :func:`note_job` (called by :func:`sonogen.server.deps.run_job`) adds the
time its model job spent waiting in the queue and running. Each request then gives

* one log line on the ``sonogen.server.access`` logger, e.g.
  ``POST /v1/interpolate 200 3.214 s (queue 1.102 s, model 2.051 s)``;
* updates of the :class:`Metrics` of its app, which ``GET /metrics`` renders in the
  Prometheus text format (version 0.0.4).

The metrics (all names start with ``sonogen_``):

==================================== ========= ==================================================
name                                 type      what
==================================== ========= ==================================================
``requests_total``                   counter   answers, by ``method``, ``path`` (the route) and ``code``
``request_errors_total``             counter   answers with a 4xx or 5xx ``code``
``request_duration_seconds``         histogram whole request time, by ``path``
``clips_total``                      counter   answers made by the model (2xx), by ``path``
``clip_latency_seconds``             histogram request time of those answers, by ``path``
``clips_per_second``                 gauge     model answers per second over the last minute
``queue_wait_seconds``               histogram time model jobs waited for the model
``model_seconds``                    histogram model time of each job (its whole batch)
``queue_length``                     gauge     jobs waiting for the model
``jobs_running``                     gauge     jobs the model is running
``queue_capacity``                   gauge     most jobs that may wait (more get 503)
``model_loaded``                     gauge     1 once the model answers
``info``                             gauge     1, labelled with the sonogen ``version``
==================================== ========= ==================================================

Counters and histograms live in the app (one set per process): behind Ray Serve they are
those of the ingress replica that answers ``/metrics``; Ray's own ``ray_serve_*`` metrics
come from each node's metrics export port (see the README).
"""

from __future__ import annotations

import bisect
import collections
import contextvars
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

log = logging.getLogger("sonogen.server.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Content type of the Prometheus text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Histogram buckets of request, clip, queue and model times, seconds.
SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
#: Seconds over which ``clips_per_second`` counts answers.
RATE_WINDOW_S = 60.0

# the timing record of the request being answered (set by RequestTiming, filled by note_job)
_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("sonogen_request", default=None)


def note_job(job: Any) -> None:
    """Add a finished model job's queue and model seconds to the current request's record."""
    record = _current.get()
    if record is None:
        return
    record["jobs"] = record.get("jobs", 0) + 1
    for key in ("queue_s", "model_s"):
        value = getattr(job, key, None)
        if value is not None:
            record[key] = record.get(key, 0.0) + float(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Counter:
    """A monotonically growing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self.values[labels] = self.values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self.values.get(labels, 0.0)

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted(self.values.items())
        for labels, value in items:
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Gauge:
    """A value read when scraped (``read()`` returns ``{label values: value}``)."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Sequence[str], read: Callable[[], dict[tuple[str, ...], float]]) -> None:
        self.name, self.help, self.label_names, self.read = name, help_text, tuple(labels), read

    def samples(self) -> Iterable[str]:
        for labels, value in sorted(self.read().items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram:
    """Observations counted into cumulative buckets (``le``), with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = (), buckets: Sequence[float] = SECONDS_BUCKETS) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.buckets = tuple(sorted(buckets))
        self.series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}  # counts per bucket (+Inf last), [sum]
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts, total = self.series.setdefault(labels, ([0] * (len(self.buckets) + 1), [0.0]))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            total[0] += value

    def count(self, *labels: str) -> int:
        series = self.series.get(labels)
        return sum(series[0]) if series else 0

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted((labels, (list(c), s[0])) for labels, (c, s) in self.series.items())
        for labels, (counts, total) in items:
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = 'le="' + _number(bound) + '"'
                yield f"{self.name}_bucket{_labels(self.label_names, labels, le)} {running}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(total)}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {running}"


class Metrics:
    """The metrics of one app; the gauges read the engine handed to :meth:`render`."""

    def __init__(self, version: str) -> None:
        self.engine: Any = None
        self.version = version
        self.requests = Counter("sonogen_requests_total", "HTTP answers by method, route and status code.",
                                ("method", "path", "code"))
        self.errors = Counter("sonogen_request_errors_total", "HTTP answers with a 4xx or 5xx status, by code.", ("code",))
        self.duration = Histogram("sonogen_request_duration_seconds", "Whole request time, by route.", ("path",))
        self.clips = Counter("sonogen_clips_total", "Answers the model made (2xx), by route.", ("path",))
        self.clip_latency = Histogram("sonogen_clip_latency_seconds", "Request time of the answers the model made.",
                                      ("path",))
        self.queue_wait = Histogram("sonogen_queue_wait_seconds", "Time model jobs waited before the model took them.")
        self.model_time = Histogram("sonogen_model_seconds", "Model time of each job (its whole batch).")
        self._recent: collections.deque[float] = collections.deque()
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self.families: list[Any] = [
            self.requests, self.errors, self.duration, self.clips, self.clip_latency,
            Gauge("sonogen_clips_per_second", "Answers the model made per second over the last minute.", (),
                  lambda: {(): self.clips_per_second()}),
            self.queue_wait, self.model_time,
            Gauge("sonogen_queue_length", "Jobs waiting for the model.", (), lambda: self._engine_figure("waiting")),
            Gauge("sonogen_jobs_running", "Jobs the model is running now.", (), lambda: self._engine_figure("running")),
            Gauge("sonogen_queue_capacity", "Most jobs that may wait; more are answered 503.", (),
                  lambda: self._engine_figure("queue_size")),
            Gauge("sonogen_model_loaded", "1 once the model is loaded and answering.", (),
                  lambda: {(): 0.0 if self.engine is None else 1.0}),
            Gauge("sonogen_info", "sonogen's version.", ("version",), lambda: {(self.version,): 1.0}),
        ]

    def _engine_figure(self, name: str) -> dict[tuple[str, ...], float]:
        engine = self.engine
        if engine is None:
            return {(): 0.0}
        try:
            return {(): float(getattr(engine, name))}
        except Exception:  # an engine that cannot say right now
            return {(): 0.0}

    def clips_per_second(self) -> float:
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0] < now - RATE_WINDOW_S:
                self._recent.popleft()
            count = len(self._recent)
        window = min(RATE_WINDOW_S, max(1.0, now - self._started))
        return count / window

    def observe(self, method: str, path: str, code: int, seconds: float, record: dict[str, Any]) -> None:
        """Count one answered request (``record``: what :func:`note_job` added)."""
        self.requests.inc(method, path, str(code))
        if code >= 400:
            self.errors.inc(str(code))
        self.duration.observe(seconds, path)
        if "queue_s" in record:
            self.queue_wait.observe(record["queue_s"])
        if "model_s" in record:
            self.model_time.observe(record["model_s"])
        if record.get("jobs") and 200 <= code < 300:
            self.clips.inc(path)
            self.clip_latency.observe(seconds, path)
            with self._lock:
                self._recent.append(time.monotonic())

    def render(self, engine: Any = None) -> str:
        """Every metric in the Prometheus text format; the gauges read ``engine`` (None: no model yet)."""
        self.engine = engine
        lines: list[str] = []
        for family in self.families:
            lines.append(f"# HELP {family.name} {family.help}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            lines.extend(family.samples())
        return "\n".join(lines) + "\n"


def route_label(scope: Scope) -> str:
    """The route a request reached (its path template), "static" for the web app's files, or
    "unmatched": a label with a bounded number of values, whatever paths clients send."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if route is None or path is None:
        return "unmatched"
    if getattr(route, "methods", None) is None:  # a Mount: the web app's static files
        return "static"
    return str(path)


class RequestTiming:
    """Pure ASGI middleware: times each HTTP request, logs it with its queue and model time,
    and counts it in ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        record: dict[str, Any] = {}
        token = _current.set(record)
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            _current.reset(token)
            elapsed = time.monotonic() - started
            method = str(scope.get("method", "?"))
            self.metrics.observe(method, route_label(scope), status, elapsed, record)
            timing = ""
            if "model_s" in record or "queue_s" in record:
                timing = f" (queue {record.get('queue_s', 0.0):.3f} s, model {record.get('model_s', 0.0):.3f} s)"
            log.info("%s %s %d %.3f s%s", method, _printable_path(scope), status, elapsed, timing)


def _printable_path(scope: Scope) -> str:
    """The path as the client sent it (percent-encoded: no spaces or control characters)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes | bytearray):
        return bytes(raw).decode("ascii", "backslashreplace")
    return str(scope.get("path", "")).encode("ascii", "backslashreplace").decode("ascii")


def log_requests(level: int | str = logging.INFO) -> None:
    """Send the request log (``sonogen.server.access``) to stderr at ``level`` (once per process).

    ``sonogen serve`` calls it in place of uvicorn's access log, whose lines carry no timings;
    behind Ray Serve the ingress replica calls it, and its lines land in that replica's log.
    """
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    if not any(getattr(h, "_sonogen", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s sonogen: %(message)s", "%H:%M:%S"))
        handler._sonogen = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(level)
