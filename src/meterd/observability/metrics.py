"""A small process-wide metrics registry rendered in the Prometheus text format.

Counters, gauges read at scrape time and fixed-bucket histograms, each with
a lock of its own: recording is one dictionary update under that lock, cheap
enough for the ingest path. Label values are few and chosen by meterd
(status codes, outcomes), never user input, so series stay bounded.

Each process keeps its own numbers; with several server processes behind a
load balancer, Prometheus scrapes each one and sums them.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from typing import ClassVar

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(names: Labels, values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class _Metric:
    kind: ClassVar[str] = "untyped"

    def __init__(self, name: str, help_text: str, labels: Labels = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = labels
        self._lock = threading.Lock()

    def samples(self) -> Iterable[str]:
        raise NotImplementedError

    def render(self) -> str:
        head = f"# HELP {self.name} {self.help}\n# TYPE {self.name} {self.kind}\n"
        return head + "".join(line + "\n" for line in self.samples())


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Labels = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[Labels, float] = {} if labels else {(): 0.0}

    def inc(self, amount: float = 1.0, *values: str) -> None:
        with self._lock:
            self._values[values] = self._values.get(values, 0.0) + amount

    def value(self, *values: str) -> float:
        with self._lock:
            return self._values.get(values, 0.0)

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted(self._values.items())
        for values, v in items:
            yield f"{self.name}{_label_text(self.labels, values)} {_number(v)}"


class Gauge(_Metric):
    """A value read when scraped, from a function of the running process."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text)
        self._read: list[Callable[[], float]] = []

    def track(self, read: Callable[[], float]) -> None:
        """Add ``read()`` to the gauge (several sources sum, e.g. two queues)."""
        with self._lock:
            self._read.append(read)

    def untrack(self, read: Callable[[], float]) -> None:
        with self._lock:
            if read in self._read:
                self._read.remove(read)

    def value(self) -> float:
        with self._lock:
            reads = list(self._read)
        return float(sum(r() for r in reads))

    def samples(self) -> Iterable[str]:
        yield f"{self.name} {_number(self.value())}"


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self, name: str, help_text: str, buckets: tuple[float, ...], labels: Labels = ()
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = buckets
        # Per label set: counts per bucket (the last is +Inf), then the sum.
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *values: str) -> None:
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(values)
            if series is None:
                series = self._series[values] = ([0] * (len(self.buckets) + 1), [0.0])
            series[0][i] += 1
            series[1][0] += value

    def count(self, *values: str) -> int:
        with self._lock:
            series = self._series.get(values)
            return sum(series[0]) if series else 0

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted((k, (list(c), s[0])) for k, (c, s) in self._series.items())
        for values, (counts, total) in items:
            running = 0
            for bound, n in zip((*self.buckets, float("inf")), counts, strict=True):
                running += n
                le = _label_text(self.labels, values, f'le="{_number(bound)}"')
                yield f"{self.name}_bucket{le} {running}"
            plain = _label_text(self.labels, values)
            yield f"{self.name}_sum{plain} {_number(total)}"
            yield f"{self.name}_count{plain} {running}"


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def _add(self, metric: _Metric) -> _Metric:
        with self._lock:
            return self._metrics.setdefault(metric.name, metric)

    def counter(self, name: str, help_text: str, labels: Labels = ()) -> Counter:
        metric = self._add(Counter(name, help_text, labels))
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str) -> Gauge:
        metric = self._add(Gauge(name, help_text))
        assert isinstance(metric, Gauge)
        return metric

    def histogram(
        self, name: str, help_text: str, buckets: tuple[float, ...], labels: Labels = ()
    ) -> Histogram:
        metric = self._add(Histogram(name, help_text, buckets, labels))
        assert isinstance(metric, Histogram)
        return metric

    def render(self) -> str:
        with self._lock:
            metrics = sorted(self._metrics.values(), key=lambda m: m.name)
        return "".join(m.render() for m in metrics)
