"""Reading every save back, and printing the run's figures, ratios and verdicts."""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp

from loadbench.people import Hub, checksum
from loadbench.stats import Stats, percentile

MIB = 1024 * 1024


async def verify_saves(hub: Hub, token: str, stats: Stats) -> None:
    """Every notebook's last save, read back with the admin token; a differing one is lost."""
    headers = {"Authorization": f"token {token}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(60)) as http:
        for (user, path), expected in sorted(stats.saves.items()):
            url = f"{hub.base_url}/user/{user}/api/contents/{path}?content=1"
            try:
                async with http.get(url) as r:
                    if r.status != 200:
                        stats.lost.append(f"{user}/{path}: HTTP {r.status} at the end")
                        continue
                    got = (await r.json())["content"]
            except (aiohttp.ClientError, TimeoutError, OSError, KeyError, ValueError) as e:
                stats.lost.append(f"{user}/{path}: {type(e).__name__} at the end")
                continue
            if checksum(got) != expected:
                stats.lost.append(f"{user}/{path}: differs from the last save")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f}"


def step_rows(stats_by_run: dict[str, Stats]) -> list[str]:
    steps = list(dict.fromkeys(s for st in stats_by_run.values() for s in st.latencies))
    names = list(stats_by_run)
    head = f"{'step':34} " + " ".join(f"{n + ' p50/p95/p99 ms (n)':>38}" for n in names)
    rows = [head + ("   p95 ratio" if len(names) == 2 else "")]
    for step in steps:
        cells, p95s = [], []
        for name in names:
            values = stats_by_run[name].latencies.get(step, [])
            p95s.append(percentile(values, 95))
            cells.append(
                f"{ms(percentile(values, 50))}{ms(p95s[-1])}{ms(percentile(values, 99))}"
                f" ({len(values):5d})    "
            )
        ratio = f"   {p95s[0] / p95s[1]:.2f}x" if len(names) == 2 and p95s[1] > 0 else ""
        rows.append(f"{step:34} " + " ".join(f"{c:>38}" for c in cells) + ratio)
    return rows


def error_rows(run: Any) -> list[str]:
    rows = []
    for label, stats in (("people", run.stats), ("API-only", run.api_stats)):
        total = sum(stats.errors.values())
        rows.append(f"  {run.name} {label}: {total} errors")
        rows += [f"    {count:6d}  {kind}" for kind, count in stats.errors.most_common(12)]
    saves = len(run.stats.saves)
    rows.append(f"  {run.name}: {saves} notebooks saved, {len(run.stats.lost)} lost or differing")
    rows += [f"    LOST {what}" for what in run.stats.lost[:20]]
    return rows


def resource_rows(run: Any) -> list[str]:
    s, a = run.sampler, run.api_sampler
    cpu = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(s.cpu_by_name().items()))
    api_cpu = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(a.cpu_by_name().items()))
    return [
        f"  {run.name}: hub infrastructure peak RSS {s.infra_peak / MIB:.0f} MiB (people), "
        f"{a.infra_peak / MIB:.0f} MiB (API-only); users' servers peak RSS "
        f"{s.servers_peak / MIB:.0f} MiB",
        f"  {run.name}: CPU people phase: {cpu}; API-only phase: {api_cpu}",
        f"  {run.name}: the bench client itself in the API-only phase: CPU "
        f"{run.api_client_cpu:.1f} s; its event loop woke late by p50 "
        f"{percentile(run.api_client_lag, 50) * 1000:.0f} ms, p99 "
        f"{percentile(run.api_client_lag, 99) * 1000:.0f} ms, max "
        f"{max(run.api_client_lag, default=0.0) * 1000:.0f} ms",
    ]


def goal_rows(runs: list[Any]) -> list[str]:
    if len(runs) != 2:
        return ["  (ratios need the JupyterHub run; it was not run)"]
    cy, jh = runs
    step = "login -> JupyterLab rendered"
    p_cy = percentile(cy.stats.latencies.get(step, []), 95)
    p_jh = percentile(jh.stats.latencies.get(step, []), 95)
    rss = cy.sampler.infra_peak / jh.sampler.infra_peak if jh.sampler.infra_peak else float("nan")
    return [
        f"  login -> JupyterLab rendered p95: {p_cy:.2f} s vs {p_jh:.2f} s = "
        f"{p_cy / p_jh:.2f}x (goal <= 0.5x)",
        f"  hub infrastructure peak RSS: {rss:.2f}x of JupyterHub + CHP + idle-culler "
        "(goal <= 0.5x)",
    ]


def print_report(runs: list[Any], verdicts: list[tuple[str, bool, str]],
                 args: argparse.Namespace) -> None:  # fmt: skip
    print(f"\n== Load: {args.people} people for {args.duration:.0f} s, then "
          f"{args.api_clients} API-only clients for {args.api_duration:.0f} s ==")  # fmt: skip
    for row in step_rows({r.name: r.stats for r in runs}):
        print(row)
    print("\n== API-only phase ==")
    for row in step_rows({r.name: r.api_stats for r in runs}):
        print(row)
    print("\n== Errors and saves ==")
    for run in runs:
        for row in error_rows(run):
            print(row)
    print("\n== Resources ==")
    for run in runs:
        for row in resource_rows(run):
            print(row)
    print("\n== Goals (reported, not asserted) ==")
    for row in goal_rows(runs):
        print(row)
    print("\n== Faults ==")
    if not verdicts:
        print("  (none run)")
    for name, ok, detail in verdicts:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    lost = sum(len(r.stats.lost) for r in runs)
    print(f"\nREPORT COMPLETE: {lost} saves lost")
