"""Turn benchmark results into the table of medians and the PNG chart.

Table columns: row, pysync median seconds, rclone median seconds, ratio pysync/rclone (lower is
better; <= 1.00 means pysync is at least as fast), the reference run's median seconds and what
it ran (``cp -r``, ``scp``, ``smbclient``: :mod:`bench.reference`), each tool's median CPU
seconds (user + sys), and each tool's peak RSS in MiB (the largest over the repetitions).
A tool with any failed run shows ``FAIL`` instead of a time.  The chart needs matplotlib
(``pip install .[bench]``); without it a one-line notice is printed instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["format_table", "write_chart"]

HEADERS = ("row", "pysync s", "rclone s", "ratio", "ref s", "ref", "pysync cpu",
           "rclone cpu", "pysync MiB", "rclone MiB")


def _time_cell(s: dict[str, Any]) -> str:
    if s.get("status") == "FAIL":
        return "FAIL"
    if s.get("median_s") is None:
        return "-"
    return f"{s['median_s']:.2f}"


def _cpu_cell(s: dict[str, Any]) -> str:
    v = s.get("median_cpu_s")
    return "-" if v is None else f"{v:.2f}"


def _rss_cell(s: dict[str, Any]) -> str:
    """Peak RSS; for a sampled row (worker processes) the tree's summed peak after it."""
    v = s.get("peak_rss_mib")
    tree = s.get("peak_tree_rss_mib")
    if v is None:
        return "-"
    if tree is not None and s.get("max_procs", 0) and s["max_procs"] > 1:
        return f"{v:.0f} (tree {tree:.0f})"
    return f"{v:.0f}"


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    summary = row.get("summary")
    if summary is None:
        from .runner import summarize_row

        summary = summarize_row(row)
    return summary


def table_rows(results: dict[str, Any]) -> list[tuple[bool, tuple[str, ...]]]:
    """``(is_sweep, cells)`` for each row of the results."""
    out = []
    for row in results.get("rows", []):
        s = _summary(row)
        ratio = s.get("ratio")
        name = row["name"]
        if row.get("sweep"):
            name = f"{name} [{row['sweep']}]"
        ref = s.get("reference") or {}
        cells = (name, _time_cell(s["pysync"]), _time_cell(s["rclone"]),
                 "-" if ratio is None else f"{ratio:.2f}",
                 _time_cell(ref) if ref else "-", str(ref.get("label") or "-"),
                 _cpu_cell(s["pysync"]), _cpu_cell(s["rclone"]),
                 _rss_cell(s["pysync"]), _rss_cell(s["rclone"]))
        out.append((bool(row.get("sweep")), cells))
    return out


def format_table(results: dict[str, Any]) -> str:
    """The table of medians as text (main rows, then the sweep rows under their own heading)."""
    rows = table_rows(results)
    widths = [len(h) for h in HEADERS]
    for _sweep, cells in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * len(line(HEADERS))
    reps = results.get("reps")
    mode = "quick" if results.get("quick") else "full"
    out = [f"pysync vs rclone: medians over {reps} repetition(s) per tool, {mode} data sets"
           + (" (INTERRUPTED, partial)" if results.get("interrupted") else ""),
           line(HEADERS), rule]
    if results.get("load1_start") is not None:
        out.insert(1, f"(load average at start {results['load1_start']}, at end "
                      f"{results.get('load1_end')}, {results.get('machine', {}).get('cpus')} "
                      "CPUs)")
    out += [line(cells) for sweep, cells in rows if not sweep]
    sweeps = [cells for sweep, cells in rows if sweep]
    if sweeps:
        out.append("-- sweeps " + "-" * max(0, len(rule) - 10))
        out += [line(cells) for cells in sweeps]
    out.append(rule)
    odd = [row["name"] for row in results.get("rows", []) if _summary(row).get("dst_mismatch")]
    if odd:
        out.append("WARNING: the runs left destinations of different file counts or sizes: "
                   + ", ".join(odd) + " (dst_files/dst_bytes in the JSON)")
    out.append("ratio = pysync/rclone median wall time (lower is better; <= 1.00: pysync at "
               "least as fast); ref s = the same copy by a plain program in the same run "
               "(ref: cp -r, scp, smbclient), the distance to the machine's limit; cpu = "
               "median CPU seconds (user + sys) of the client, its local Dask worker "
               "processes included; MiB = peak RSS, max over repetitions (tree: the summed "
               "RSS of the client's processes, sampled); -daskN rows: pysync --dask-workers N; "
               "FAIL = a run exited non-zero (stderr tail in the JSON)")
    return "\n".join(out)


def write_chart(results: dict[str, Any], path: Path) -> str | None:
    """Write a PNG bar chart of the medians; return a notice instead if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install '.[bench]'): no chart written"
    rows = [r for r in results.get("rows", []) if r.get("runs")]
    if not rows:
        return "no results: no chart written"
    names = [r["name"] for r in rows]
    summaries = [_summary(r) for r in rows]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(13, 0.45 * len(rows) + 2.0), sharey=True)
    ys = list(range(len(rows)))
    h = 0.27
    colors = {"pysync": "#3572A5", "rclone": "#00ADD8", "reference": "#999999"}
    labels = {"pysync": "pysync", "rclone": "rclone",
              "reference": "reference (cp -r / scp / smbclient)"}
    for i, tool in enumerate(("pysync", "rclone", "reference")):
        off = [y - h + i * h for y in ys]
        secs = [(s.get(tool) or {}).get("median_s") or 0.0 for s in summaries]
        rss = [(s.get(tool) or {}).get("peak_rss_mib") or 0.0 for s in summaries]
        if tool == "reference" and not any(secs):
            continue
        ax_t.barh(off, secs, height=h, label=labels[tool], color=colors[tool])
        if tool != "reference":
            ax_m.barh(off, rss, height=h, label=labels[tool], color=colors[tool])
        for y, s in zip(off, summaries, strict=True):
            if (s.get(tool) or {}).get("status") == "FAIL":
                ax_t.text(0, y, " FAIL", va="center", fontsize=7, color="red")
    for y, s in zip(ys, summaries, strict=True):
        if s.get("ratio") is not None:
            top = max(s["pysync"].get("median_s") or 0, s["rclone"].get("median_s") or 0)
            ax_t.text(top, y, f"  x{s['ratio']:.2f}", va="center", fontsize=7)
    ax_t.set_yticks(ys)
    ax_t.set_yticklabels([f"{n} *" if r.get("sweep") else n
                          for n, r in zip(names, rows, strict=True)], fontsize=8)
    ax_t.invert_yaxis()
    ax_t.set_xlabel("median wall time, s (lower is better)")
    ax_m.set_xlabel("peak RSS, MiB")
    handles, labels = ax_t.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=3, fontsize=8)
    ax_t.margins(x=0.15)
    mode = "quick" if results.get("quick") else "full"
    fig.suptitle(f"pysync vs rclone ({mode}, {results.get('reps')} reps; * = sweep row)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
