"""The printed result: tables per measurement, ratios, and PASS/MISS against the targets.

The targets are informational (issue 3): the bench reports, it never fails on speed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from proxybench.workload import Results
from proxybench.wrk import LoadResult

DIRECT, COURTYARD, CHP = "direct", "courtyard", "chp"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def render(self) -> str:
        cells = [self.header, *self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.header))]
        lines = [
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in cells
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _rps(r: LoadResult | None) -> float | None:
    return None if r is None else r.rps


def _p99(r: LoadResult | None) -> float | None:
    return None if r is None else r.p99_ms


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _rounds(values: list[float]) -> str:
    return " ".join(f"{v:,.0f}" for v in values)


def http_table(results: Results) -> str:
    table = Table(
        ["test", "target", "req/s", "p50 ms", "p99 ms", "errors", "RSS peak KiB", "every round"]
    )
    for (test, target), r in results.http.items():
        errors = str(r.socket_errors + r.non_2xx)
        rss = str(r.peak_rss_kib) if r.peak_rss_kib else "-"
        row = [test, target, f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", errors, rss]
        table.rows.append([*row, _rounds(results.http_runs.get((test, target), []))])
    return table.render()


def ratio_table(results: Results) -> str:
    table = Table(["test", "courtyard/chp req/s", "courtyard/direct req/s", "p99 courtyard/direct"])
    for test in results.tests():
        cy, chp, direct = (results.http.get((test, t)) for t in (COURTYARD, CHP, DIRECT))
        table.rows.append(
            [
                test,
                _fmt(_ratio(_rps(cy), _rps(chp)), ".2f", "x"),
                _fmt(_ratio(_rps(cy), _rps(direct)), ".2f", "x"),
                _fmt(_ratio(_p99(cy), _p99(direct)), ".2f", "x"),
            ]
        )
    return table.render()


def ws_table(results: Results) -> str:
    table = Table(
        ["target", "echoes", "p50 us", "p99 us", "mean us", "added p50 us", "added p99 us"]
    )
    direct = results.echo.get(DIRECT)
    for target, r in results.echo.items():
        added50 = None if direct is None else r.p50_us - direct.p50_us
        added99 = None if direct is None else r.p99_us - direct.p99_us
        table.rows.append(
            [
                target,
                str(r.count),
                f"{r.p50_us:.0f}",
                f"{r.p99_us:.0f}",
                f"{r.mean_us:.0f}",
                _fmt(added50, ".0f"),
                _fmt(added99, ".0f"),
            ]
        )
    return table.render()


def memory_table(results: Results) -> str:
    table = Table(
        ["proxy", "idle KiB", "under small load KiB", "open WS", "with WS KiB", "per WS KiB"]
    )
    for target, idle in results.idle.items():
        load = results.http.get((results.small_test, target))
        table.rows.append(
            [
                target,
                str(idle.idle_kib),
                str(load.peak_rss_kib) if load else "-",
                str(idle.count),
                str(idle.open_kib),
                f"{idle.per_socket_kib:.1f}",
            ]
        )
    return table.render()


def workers_table(results: Results) -> str:
    table = Table(
        [
            "test",
            "workers",
            "req/s",
            "p50 ms",
            "p99 ms",
            "vs 1 worker",
            "vs chp",
            "RSS sum KiB",
            "every round",
        ]
    )
    for test, r in results.workers.items():
        one, chp = results.http.get((test, COURTYARD)), results.http.get((test, CHP))
        table.rows.append(
            [
                test,
                str(results.worker_count),
                f"{r.rps:,.0f}",
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                _fmt(_ratio(r.rps, _rps(one)), ".2f", "x"),
                _fmt(_ratio(r.rps, _rps(chp)), ".2f", "x"),
                str(r.peak_rss_kib),
                _rounds(results.workers_runs.get(test, [])),
            ]
        )
    return table.render()


def workers_caveat(count: int) -> str:
    if count < (os.cpu_count() or 1):
        return ""
    return f"\nnote: {os.cpu_count()} CPUs - the workers share cores with wrk and the upstream"


def _verdict(name: str, value: float | None, ok: bool | None, shown: str) -> list[str]:
    state = "n/a" if value is None or ok is None else ("PASS" if ok else "MISS")
    return [name, shown if value is not None else "-", state]


def targets_table(results: Results) -> str:
    small, big = results.small_test, results.big_test
    http = results.http

    def rps_ratio(test: str, ref: str) -> float | None:
        cy, other = http.get((test, COURTYARD)), http.get((test, ref))
        return _ratio(_rps(cy), _rps(other))

    p99 = _ratio(_p99(http.get((big, COURTYARD))), _p99(http.get((big, DIRECT))))
    echo, direct = results.echo, results.echo.get(DIRECT)
    cy_add = (
        None if direct is None or COURTYARD not in echo else echo[COURTYARD].p50_us - direct.p50_us
    )
    chp_add = None if direct is None or CHP not in echo else echo[CHP].p50_us - direct.p50_us
    per_ws = results.idle[COURTYARD].per_socket_kib if COURTYARD in results.idle else None
    checks = [
        ("small: courtyard >= 5x chp req/s", rps_ratio(small, CHP), 5.0, "x"),
        ("small: courtyard >= 0.5x direct req/s", rps_ratio(small, DIRECT), 0.5, "x"),
        ("1 MiB: courtyard >= 4x chp req/s", rps_ratio(big, CHP), 4.0, "x"),
    ]
    table = Table(["target", "measured", "verdict"])
    for name, value, floor, unit in checks:
        ok = None if value is None else value >= floor
        table.rows.append(_verdict(name, value, ok, _fmt(value, ".2f", unit)))
    table.rows.append(
        _verdict(
            "1 MiB: courtyard p99 <= 3x direct p99",
            p99,
            None if p99 is None else p99 <= 3.0,
            _fmt(p99, ".2f", "x"),
        )
    )
    ws_ok = None if cy_add is None or chp_add is None else cy_add <= chp_add
    shown = f"{_fmt(cy_add, '.0f')} us vs chp {_fmt(chp_add, '.0f')} us"
    table.rows.append(_verdict("WS added p50 latency <= chp's", cy_add, ws_ok, shown))
    table.rows.append(
        _verdict(
            "memory per idle WS <= 10 KiB",
            per_ws,
            None if per_ws is None else per_ws <= 10.0,
            _fmt(per_ws, ".1f", " KiB"),
        )
    )
    return table.render()


def tornado_section(results: Results) -> list[str]:
    """The small-response rows against the tornado upstream, with their ratios."""
    best = {target: r.rps for (_, target), r in results.http.items()}
    direct, courtyard, chp = best.get("direct"), best.get("courtyard"), best.get("chp")
    ratios = (
        f"courtyard/direct {_fmt(_ratio(courtyard, direct), '.2f', 'x')}, "
        f"courtyard/chp {_fmt(_ratio(courtyard, chp), '.2f', 'x')}"
    )
    return [
        "Realistic upstream: tornado (what jupyter_server runs on), small 100 B, same pinning",
        "(informational; the targets above use the cheap upstream)",
        http_table(results),
        ratios,
        "",
    ]


def render(
    results: Results, machine: list[str], pinning: str, extra: list[str] | None = None
) -> str:
    parts = ["", "=" * 78, "Courtyard data-plane benchmark (bench/proxy.py)", *machine, pinning, ""]
    rounds = max((len(v) for v in results.http_runs.values()), default=1)
    parts += [
        "HTTP (wrk, keep-alive, session cookie on every request; "
        + (f"best of {rounds} interleaved rounds)" if rounds > 1 else "one round)"),
        http_table(results),
        "",
    ]
    parts += ["Ratios", ratio_table(results), ""]
    if results.echo:
        parts += [
            "WebSocket round trip (sequential echoes of 32 bytes, one connection)",
            ws_table(results),
            "",
        ]
    if results.idle:
        parts += ["Proxy memory (VmRSS)", memory_table(results), ""]
    if results.workers:
        parts += [
            f"Courtyard with {results.worker_count} workers (SO_REUSEPORT, worker i on CPU i)"
            + workers_caveat(results.worker_count),
            workers_table(results),
            "",
        ]
    parts += extra or []
    parts += ["Targets (informational)", targets_table(results), "=" * 78]
    return "\n".join(parts)
