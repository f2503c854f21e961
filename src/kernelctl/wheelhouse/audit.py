"""Audit a whole wheelhouse: does every project's newest wheel install, per Python version?

For each target Python, each project's newest installable version (tags and
``Requires-Python`` permitting) is resolved with its whole dependency closure, as
:mod:`kernelctl.wheelhouse.check` resolves a requirement. A successful resolution also
proves every pinned project that sits at its own newest version, so those are not
resolved again: the audit costs far less than one resolution per project.

The report also lists every unusable entry: misnamed files, FIFOs and dangling links,
unreadable wheels and wheels whose METADATA disagrees with their file name (every
wheel's metadata is read, once, through the cache), the same file present in several directories, and the site's
placeholder (dummy) wheels. :func:`render_html` turns it into a self-contained page.
"""

from __future__ import annotations

from collections.abc import Sequence

from kernelctl.wheelhouse.check import JOINT_ROUNDS
from kernelctl.wheelhouse.diagnosis import Verdict, diagnose, unreachable
from kernelctl.wheelhouse.filenames import printable
from kernelctl.wheelhouse.index import PROBLEM_KINDS, WheelhouseIndex
from kernelctl.wheelhouse.resolver import (
    Candidate,
    Requirement,
    Resolved,
    ResolutionImpossible,
    ResolutionTooDeep,
    WheelhouseProvider,
    resolve,
)
from kernelctl.wheelhouse.reachability import Reachability
from kernelctl.wheelhouse.targets import Target

#: Matrix cell values.
CELL_OK, CELL_BROKEN, CELL_DUMMY, CELL_NONE, CELL_UNREADABLE = "ok", "broken", "dummy", "-", "unreadable"


def _newest(provider: WheelhouseProvider, project: str) -> Candidate | None:
    """The newest installable version, whether or not its closure is (no ``keep``)."""
    any_version = Requirement(project, (), provider.specifier(""), project)
    return next(provider.candidates(project, (), [any_version]), None)


def _resolve_alone(provider: WheelhouseProvider, reach: Reachability, cand: Candidate, req: Requirement
                   ) -> tuple[Resolved | None, Verdict | None]:
    """``(resolution, None)`` for ``req`` pinning ``cand``, or ``(None, why not)``."""
    if not reach.viable(cand):
        return None, unreachable(reach, req)
    solo = provider.fork()
    try:
        return resolve(solo, [req], max_rounds=JOINT_ROUNDS), None
    except (ResolutionImpossible, ResolutionTooDeep) as err:
        return None, diagnose(solo, err)


def audit_target(index: WheelhouseIndex, target: Target, projects: Sequence[str]) -> dict[str, dict]:
    """``{project: {"status", "version", "reason"}}`` for one target."""
    provider = WheelhouseProvider(index, target)
    reach = Reachability(provider)
    provider.keep = reach.viable
    newest: dict[str, Candidate | None] = {p: _newest(provider, p) for p in projects}
    cells: dict[str, dict] = {}
    for project in projects:
        if project in cells:
            continue
        cand = newest[project]
        if cand is None:
            usable = provider.versions(project)
            if usable and all(index.metadata(index.wheel(d, f, project)).error
                              for _, _, ws in usable for d, f in ws):
                cells[project] = {"status": CELL_UNREADABLE, "version": usable[0][0],
                                  "reason": "no readable wheel"}
            else:
                cells[project] = {"status": CELL_NONE, "version": None, "reason": "no wheel for this Python"}
            continue
        req = Requirement(project, (), provider.specifier(""), f"{cand.name}=={cand.version_text}", cand.name,
                          exact=cand.version)
        resolved, verdict = _resolve_alone(provider, reach, cand, req)
        if verdict is not None:
            status, reason, extra = verdict
            cell = {"status": CELL_DUMMY if status == "dummy" else CELL_BROKEN, "version": cand.version_text,
                    "reason": f"{status}: {reason}"}
            if "missing" in extra:
                cell["missing"] = extra["missing"]
            cells[project] = cell
            continue
        dummies = {k for k, c in resolved.mapping.items() if c.wheel.is_dummy}
        if cand.wheel.is_dummy or dummies:
            cells[project] = {"status": CELL_DUMMY, "version": cand.version_text,
                              "reason": "placeholder wheel" if cand.wheel.is_dummy else
                              f"needs placeholder {', '.join(sorted(dummies))}"}
            continue
        for pinned in resolved.mapping.values():
            if not pinned.extras and newest.get(pinned.project) is pinned and pinned.project not in cells:
                cells[pinned.project] = {"status": CELL_OK, "version": pinned.version_text, "reason": ""}
        cells[project] = {"status": CELL_OK, "version": cand.version_text, "reason": ""}
    return cells


def audit(index: WheelhouseIndex, targets: Sequence[Target]) -> dict:
    """The audit report (plain data, as ``--json`` prints it).

    ``{"ok", "wheelhouse", "pythons", "summary", "projects": [{"name", "project",
    "cells": {python: {"status", "version", "reason"}}}], "broken", "missing_dependencies",
    "misnamed", "not_a_file", "unreadable", "inconsistent", "duplicates", "dummies"}``: one
    list per kind of :data:`~kernelctl.wheelhouse.index.PROBLEM_KINDS`.
    """
    projects = index.projects()
    by_path: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    dummies = []
    for project in projects:
        for wheel in index.wheels(project):
            by_path.setdefault(wheel.filename, []).append(wheel.path)
            names.setdefault(project, wheel.name)
            index.metadata(wheel)
            if wheel.is_dummy:
                dummies.append({"name": wheel.name, "version": wheel.version_str, "file": wheel.path})
    per_target = {t.python_str: audit_target(index, t, [p for p in projects if index.wheels(p)]) for t in targets}
    rows = []
    broken = []
    missing: dict[str, set[str]] = {}
    for project in projects:
        if not index.wheels(project):
            continue
        cells = {label: cells.get(project) for label, cells in per_target.items()}
        rows.append({"name": names.get(project, project), "project": project, "cells": cells})
        for label, cell in cells.items():
            if cell and cell["status"] == CELL_BROKEN:
                broken.append({"name": names.get(project, project), "version": cell["version"],
                               "python": label, "reason": cell["reason"]})
                if "missing" in cell:
                    missing.setdefault(cell["missing"], set()).add(f"{names.get(project, project)} ({label})")
    problems = index.problems
    report = {
        "wheelhouse": list(index.dirs),
        "pythons": list(per_target),
        "platform": targets[0].platform_label if targets else "native",
        "projects": rows,
        "broken": broken,
        "missing_dependencies": [{"requirement": r, "needed_by": sorted(v)} for r, v in sorted(missing.items())],
        **{kind.replace("-", "_"): [p._asdict() for p in problems if p.kind == kind] for kind in PROBLEM_KINDS},
        "duplicates": [{"filename": f, "paths": paths} for f, paths in sorted(by_path.items()) if len(paths) > 1],
        "dummies": dummies,
    }
    report["summary"] = {
        "projects": len(rows),
        "wheels": sum(len(v) for v in by_path.values()),
        "broken": len(broken),
        **{kind.replace("-", "_"): len(report[kind.replace("-", "_")]) for kind in PROBLEM_KINDS},
        "duplicates": len(report["duplicates"]),
        "dummies": len(dummies),
    }
    report["ok"] = not (broken or problems)
    return {"ok": report.pop("ok"), **report}


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f3f3f3}
td.ok{background:#e3f6e3} td.broken{background:#fbdcdc} td.dummy{background:#fff2cc}
td.none{color:#999;text-align:center} td.unreadable{background:#f2d7f7}
.summary span{display:inline-block;margin-right:1.5em}
code{font-size:.95em} .reason{color:#555;font-size:.85em}
"""


def render_html(report: dict) -> str:
    """A self-contained HTML page of the audit: summary, coverage matrix, problem lists."""
    from html import escape

    def cell_html(cell: dict | None) -> str:
        if not cell:
            return '<td class="none">-</td>'
        status = cell["status"]
        cls = {"-": "none"}.get(status, status)
        title = f' title="{escape(cell["reason"], quote=True)}"' if cell.get("reason") else ""
        text = escape(cell["version"] or "-") if status != CELL_NONE else "-"
        mark = "" if status in (CELL_OK, CELL_NONE) else f" ({escape(status)})"
        return f'<td class="{escape(cls)}"{title}>{text}{mark}</td>'

    s = report["summary"]
    out = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>Wheelhouse audit</title>", f"<style>{_CSS}</style></head><body>",
        f"<h1>Wheelhouse audit: {'OK' if report['ok'] else 'problems found'}</h1>",
        "<p>Directories, in priority order: " + ", ".join(f"<code>{escape(d)}</code>" for d in report["wheelhouse"]) + "</p>",
        '<p class="summary">' + "".join(f"<span><b>{escape(k)}</b>: {v}</span>" for k, v in s.items()) + "</p>",
        "<h2>Coverage: newest version of each project, per Python</h2>",
        "<p>Green: resolves with its whole dependency closure. Red: broken (hover for why). "
        "Yellow: placeholder wheel (load the module). Grey dash: no wheel for that Python.</p>",
        "<table><thead><tr><th>project</th>" + "".join(f"<th>Python {escape(p)}</th>" for p in report["pythons"]) + "</tr></thead><tbody>",
    ]
    for row in report["projects"]:
        out.append(f"<tr><th>{escape(row['name'])}</th>" + "".join(cell_html(row["cells"].get(p)) for p in report["pythons"]) + "</tr>")
    out.append("</tbody></table>")

    def section(title: str, headers: Sequence[str], rows: list[Sequence[str]]) -> None:
        if not rows:
            return
        out.append(f"<h2>{escape(title)} ({len(rows)})</h2><table><thead><tr>" +
                   "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
        for r in rows:
            out.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>")
        out.append("</tbody></table>")

    section("Broken wheels", ("project", "version", "python", "reason"),
            [(b["name"], b["version"], b["python"], b["reason"]) for b in report["broken"]])
    section("Missing dependencies", ("requirement", "needed by"),
            [(m["requirement"], ", ".join(m["needed_by"])) for m in report["missing_dependencies"]])
    for kind, title in (("misnamed", "Misnamed files"), ("not_a_file", "Entries that are not files"),
                        ("unreadable", "Unreadable wheels"), ("inconsistent", "Wheels pip discards (METADATA "
                                                                             "disagrees with the file name)")):
        section(title, ("file", "problem"), [(printable(u["path"]), u["message"]) for u in report[kind]])
    section("Same file in several directories", ("file", "paths"),
            [(d["filename"], ", ".join(d["paths"])) for d in report["duplicates"]])
    section("Placeholder (dummy) wheels: load the module instead", ("project", "version", "file"),
            [(d["name"], d["version"], d["file"]) for d in report["dummies"]])
    out.append("</body></html>")
    return "\n".join(out) + "\n"
