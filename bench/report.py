"""Markdown tables from the results JSON (the same text goes to stdout, the JSON and the README)."""

from __future__ import annotations

from typing import Any

from bench.measure import ratio

# (scenario key, label, skopeo scenario it is compared with)
SYNC_ROWS = (
    ("cold", "cold sync into an empty target", "cold"),
    ("noop", "no-op resync, per-tag HEADs", "noop"),
    ("noop_record", "no-op resync, copy record", "noop"),
    ("noop_listing_record", "no-op resync, digest listing (emulated) + record", "noop"),
    ("changed", "one changed tag", "changed"),
    ("cold_mb", "cold sync, MB-sized layers", "cold_mb"),
)
REQUEST_ROWS = (
    ("noop", "skopeo", "skopeo sync"),
    ("noop", "regmirror", "regmirror, per-tag HEADs"),
    ("noop_record", "regmirror", "regmirror, copy record"),
    ("noop_listing_record", "regmirror", "regmirror, digest listing (emulated) + record"),
)


WAN_ROWS = (
    ("wan_cold", "cold sync into an empty target", "wan_cold"),
    ("wan_noop", "no-op resync (copy record)", "wan_noop"),
    ("wan_noop_no_record", "no-op resync, `--no-record`", "wan_noop"),
    ("wan_moved", "one tag moved to an image it holds (a re-tag)", "wan_moved"),
    ("wan_changed", "one changed tag", "wan_changed"),
)

PLAN_ROWS = (
    ("plan", "regmirror plan (with digest checks)"),
    ("plan_no_check", "regmirror plan --no-check"),
    ("plan_page_1000", "regmirror plan, `lister: {pageSize: 1000}`"),
)


def render_tables(results: dict[str, Any]) -> str:
    parts = [_machine_line(results)]
    if any(not key.startswith("wan_") for key in results.get("scenarios") or {}):
        parts += [_sync_table(results), _cpu_table(results), _request_table(results)]
    if results.get("wan"):
        parts.append(_wan_table(results))
    if results.get("plan_scale"):
        parts.append(_plan_table(results["plan_scale"]))
    if results.get("imports"):
        parts.append(_import_table(results["imports"]))
    return "\n\n".join(parts) + "\n"


def _machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    corpus = results.get("corpus") or {}
    line = f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, {m['skopeo']}, {m['registry']}"
    line += f"; load average at start {m['loadavg_start'][0]:.2f}. "
    if corpus:
        line += (
            f"Corpus: {corpus['tags']} tags in {corpus['repos']} repositories, "
            f"{corpus['layers']} layer(s) of "
            f"{_size(corpus['layer_size'])}, {corpus['multi_arch_tags']} multi-arch. "
        )
    mb = results.get("mb_corpus")
    if mb:
        line += f"MB corpus: {mb['tags']} tags, {mb['layers']} layers of {_size(mb['layer_size'])}. "
    return line + f"Medians of {results['settings']['reps']} interleaved repetitions (min–max)."


def _size(n: int) -> str:
    return f"{n / 1024**2:.3g} MiB" if n >= 1024**2 else f"{n / 1024:.3g} KiB" if n >= 1024 else f"{n} B"


def _cell(stats: dict[str, Any] | None, unit: str = "s") -> str:
    if not stats or not stats.get("n"):
        return "—"
    return f"{stats['median']:.2f} {unit} ({stats['min']:.2f}–{stats['max']:.2f})"


def _sync_table(results: dict[str, Any]) -> str:
    scenarios = results["scenarios"]
    rows = [
        "| scenario | regmirror | skopeo sync | regmirror / skopeo | speed-up |",
        "|---|---|---|---|---|",
    ]
    for key, label, versus in SYNC_ROWS:
        ours = (scenarios.get(key) or {}).get("regmirror")
        theirs = (scenarios.get(versus) or {}).get("skopeo")
        if not ours:
            continue
        a = ours["wall_s"]["median"]
        b = theirs["wall_s"]["median"] if theirs else 0.0
        r = ratio(a, b)
        speed = f"{b / a:.1f}×" if a and b else "—"
        skopeo_cell = _cell(theirs["wall_s"] if theirs else None)
        rows.append(f"| {label} | {_cell(ours['wall_s'])} | {skopeo_cell} | {r} | {speed} |")
    return "\n".join(rows)


def _wan_table(results: dict[str, Any]) -> str:
    """The WAN group: wall times against skopeo and against the floor; bytes uploaded per distinct
    blob byte (cold) or in MiB; connections opened on both links."""
    wan, scenarios = results["wan"], results["scenarios"]
    link = wan["link"]
    rows = [
        f"Across an emulated WAN link ({link['rtt'] * 1000:g} ms round trip, "
        f"{link['bandwidth_bps'] / 1e6:g} Mbit/s each way, in front of both registries; "
        f"{wan['corpus']['tags']} tags in {wan['corpus']['repos']} repositories, "
        f"{_size(wan['distinct_blob_bytes'])} of distinct blobs):",
        "",
        "| scenario | regmirror | skopeo sync | speed-up | floor | regmirror / floor "
        "| uploaded (regmirror / skopeo) | connections (regmirror / skopeo) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, label, versus in WAN_ROWS:
        ours = (scenarios.get(key) or {}).get("regmirror")
        theirs = (scenarios.get(versus) or {}).get("skopeo")
        if not ours or not ours["wall_s"]["n"]:
            continue
        a = ours["wall_s"]["median"]
        b = theirs["wall_s"]["median"] if theirs and theirs["wall_s"]["n"] else 0.0
        floor = ours.get("floor_s") or 0.0
        speed = f"{b / a:.1f}×" if a and b else "—"
        over_floor = f"{a / floor:.1f}×" if floor else "—"
        uploaded = " / ".join(_uploaded(t, wan, cold=key == "wan_cold") for t in (ours, theirs))
        connections = " / ".join(_count(t, "connections") for t in (ours, theirs))
        rows.append(
            f"| {label} | {_cell(ours['wall_s'])} | {_cell(theirs['wall_s'] if theirs else None)} | {speed} "
            f"| {floor:.2f} s | {over_floor} | {uploaded} | {connections} |"
        )
    return "\n".join(rows)


def _count(stats: dict[str, Any] | None, key: str) -> str:
    value = (stats or {}).get(key) or {}
    return f"{value['median']:.0f}" if value.get("n") else "—"


def _uploaded(stats: dict[str, Any] | None, wan: dict[str, Any], *, cold: bool) -> str:
    value = (stats or {}).get("uploaded_bytes") or {}
    if not value.get("n"):
        return "—"
    if cold:
        return f"{value['median'] / wan['distinct_blob_bytes']:.2f}×"
    return _size(int(value["median"]))


def _cpu_table(results: dict[str, Any]) -> str:
    """Where the CPU went: the tool's process tree (skopeo children included) and both registries."""
    scenarios = results["scenarios"]
    rows = [
        "CPU seconds, medians (client process tree incl. skopeo children / both registries):",
        "",
        "| scenario | regmirror | registries (regmirror run) | skopeo sync | registries (skopeo run) |",
        "|---|---|---|---|---|",
    ]
    for key, label, _versus in SYNC_ROWS:
        tools = scenarios.get(key) or {}
        if not tools:
            continue
        cells = []
        for tool in ("regmirror", "skopeo"):
            stats = tools.get(tool)
            cells += [_median(stats, "cpu_s"), _median(stats, "registries_cpu_s")]
        rows.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(rows)


def _median(stats: dict[str, Any] | None, key: str) -> str:
    value = (stats or {}).get(key) or {}
    return f"{value['median']:.2f}" if value.get("n") else "—"


def _request_table(results: dict[str, Any]) -> str:
    scenarios = results["scenarios"]
    rows = [
        "Requests per unchanged tag on the source (no-op resync, from the registry's access log):",
        "",
        "| client | manifest GET | manifest HEAD | blob GET | other | total |",
        "|---|---|---|---|---|---|",
    ]
    for key, tool, label in REQUEST_ROWS:
        per = ((scenarios.get(key) or {}).get(tool) or {}).get("source_requests_per_tag")
        if per is None:
            continue
        known = per.get("manifest_get", 0) + per.get("manifest_head", 0) + per.get("blob_get", 0)
        other = per.get("total", 0) - known
        rows.append(
            f"| {label} | {per.get('manifest_get', 0):.2f} | {per.get('manifest_head', 0):.2f} | "
            f"{per.get('blob_get', 0):.2f} | {other:.2f} | {per.get('total', 0):.2f} |"
        )
    return "\n".join(rows)


def _plan_table(scale: dict[str, Any]) -> str:
    rows = [
        f"Planning at scale: catalog of {scale['catalog_repos']} repositories, "
        f"`from: {scale['from']}` matches "
        f"{scale['matching']}, their tags listed:",
        "",
        "| command | wall time | peak RSS | source requests |",
        "|---|---|---|---|",
    ]
    for key, label in PLAN_ROWS:
        s = scale.get(key)
        if s is None:
            continue
        total = (s.get("source_requests") or {}).get("total", "—")
        rows.append(f"| {label} | {_cell(s.get('wall_s'))} | {_cell(s.get('max_rss_mb'), 'MB')} | {total} |")
    return "\n".join(rows)


def _import_table(imports: dict[str, Any]) -> str:
    rows = ["| start-up | import (ms) | whole process (ms) |", "|---|---|---|"]
    for name, data in imports.items():
        if data.get("error"):
            rows.append(f"| {name} | error: {' '.join(data['error'])[:120]} | — |")
            continue
        rows.append(
            f"| {name} | {_cell(data.get('import_ms'), 'ms')} | {_cell(data.get('process_ms'), 'ms')} |"
        )
    return "\n".join(rows)


def all_valid(results: dict[str, Any]) -> bool:
    """No run was invalid (wrong digests in the target, a failed run, a wrong plan)."""
    for tools in (results.get("scenarios") or {}).values():
        for stats in tools.values():
            if stats["invalid_runs"] or not stats["valid_runs"]:
                return False
    for key, _label in PLAN_ROWS:
        stats = (results.get("plan_scale") or {}).get(key)
        if stats is not None and (stats["invalid_runs"] or not stats["valid_runs"]):
            return False
    return True
