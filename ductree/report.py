"""The planning report of one case: a self-contained HTML file and a PDF.

Both carry the same content, in the order a surgeon reads it: the case
(id, breast, sources), **every warning that matters** (ambiguous or
unplaced lesions, low-confidence scope-log fusion, unmatched log branches,
ducts cut off, lesions a central excision would miss, assumed sizes), the
lesion table, the excision plan, the tree summary, and the standard views.

The HTML has its images embedded as base64 PNG and its style inline: no
network, no external file. The PDF is drawn with reportlab (A4, core
fonts). Views are rendered through :mod:`ductree.render` (one reused
offscreen window) unless images are passed in.

Examples
--------
>>> from ductree.case import load_case                        # doctest: +SKIP
>>> from ductree.report import write_report                  # doctest: +SKIP
>>> write_report(load_case("case.toml"), "report.html", pdf_path="report.pdf")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .frame import format_clock, orifice_text

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .case import Case
    from .render import Renderer
    from .scene import Scene
    from .tree import DuctTree

#: Views in the report, in this order, unless asked otherwise.
REPORT_VIEWS = ("front", "cc", "lateral", "duct", "mlo", "oblique")
REPORT_SIZE = (800, 800)
#: A scope-log fusion below this confidence is reported as low-confidence.
FUSION_CONFIDENCE_WARN = 0.9
#: Scope tip end reasons that mean the duct goes on past where the tree stops.
CUT_OFF_REASONS = ("too_narrow", "resistance", "stopped")

VIEW_CAPTIONS = {
    "cc": "Craniocaudal (seen from above), hung lateral side up",
    "lateral": "True lateral, superior up",
    "mlo": "Mediolateral oblique, axilla up",
    "front": "Front (facing the patient): 12 up, 3 o'clock on the viewer's right (patient's left)",
    "oblique": "3D overview",
    "duct": "The involved duct(s) straightened from the orifice, with depth behind the nipple",
}


@dataclass
class ReportData:
    """Everything the report shows, as plain values (mm, mL, fractions)."""

    case_id: str
    laterality: str
    sources: list[tuple[str, str]]
    facts: list[tuple[str, str]]
    warnings: list[str]
    lesions: list[dict]
    plans: list[dict]
    summary: dict
    images: dict[str, bytes] = field(default_factory=dict)
    version: str = ""


# --------------------------------------------------------------------------- warnings

def collect_warnings(case: "Case", tree: "DuctTree", located: Sequence[Any], plans: Sequence[Any]) -> list[str]:
    """Every warning that matters to a surgeon, as plain sentences (no duplicates, stable order).

    Sources: the case's own warnings (including the reconstruction's
    :class:`~ductree.errors.DuctreeWarning` messages gathered by
    :func:`ductree.scene.prepare_case`); each lesion's placement (ambiguous,
    unplaced); each plan's warnings and its central-excision shortfall;
    the tree's scope-log fusion (confidence, unmatched branches, unplaced
    findings) and scope ends that stopped short of a duct's end (cut off);
    how much of a ductogram rebuild is uncertain; loops (anastomoses).
    """
    out: list[str] = []

    def add(msg: str) -> None:
        msg = " ".join(str(msg).split())
        if msg and msg not in out:
            out.append(msg)

    for w in case.warnings:
        add(w)
    for les in located:
        if les.status == "ambiguous":
            add(f"Lesion {les.label}: placement is ambiguous ({les.ambiguity or 'several ducts'} fit): "
                f"{les.reason}")
        elif les.status == "unplaced":
            add(f"Lesion {les.label}: not placed on any duct: {les.reason}")
    for p in plans:
        for w in p.warnings:
            add(w)
        c = p.central
        if not c.get("reaches_lesion", True):
            add(f"A {p.central_excision_mm:g} mm central excision would miss lesion(s) "
                f"{', '.join(p.lesions)} (system {p.system}): the lesion with its margin reaches "
                f"{c['lesion_reach_mm']:.0f} mm deep, {c['lesion_shortfall_mm']:.0f} mm beyond it")
        elif not c.get("reaches_subtree", True):
            add(f"A {p.central_excision_mm:g} mm central excision would leave the duct tree distal to "
                f"{', '.join(p.lesions)} (system {p.system}), which reaches {c['subtree_reach_mm']:.0f} mm deep "
                f"({c['subtree_shortfall_mm']:.0f} mm beyond it)")
    g = tree.graph
    fusion = g.get("navlog_fusion")
    if isinstance(fusion, dict):
        conf = fusion.get("confidence")
        if fusion.get("ambiguous") or (conf is not None and conf < FUSION_CONFIDENCE_WARN):
            add(f"Scope-log fusion: low confidence ({conf:.2f}) that the scoped duct is system "
                f"{fusion.get('system')}" + (" (ambiguous)" if fusion.get("ambiguous") else ""))
        bmap = fusion.get("branch_map") or {}
        unmatched = [k for k, v in bmap.items() if not v]
        if unmatched:
            add(f"Scope-log fusion: {len(unmatched)} scope branch(es) matched no duct of the tree "
                f"(log branches {', '.join(map(str, unmatched))})")
    for f in g.get("findings") or []:
        if isinstance(f, dict) and f.get("status") not in (None, "placed") and not f.get("placed", False):
            add(f"Scope finding {f.get('label')}: {f.get('status')}"
                + (f" (confidence {f['confidence']:.2f})" if f.get("confidence") is not None else ""))
    cut = [d for _, d in tree.nodes(data=True) if d.get("end_reason") in CUT_OFF_REASONS]
    if cut:
        reasons = sorted({d["end_reason"].replace("_", " ") for d in cut})
        add(f"{len(cut)} duct(s) end where the scope stopped ({', '.join(reasons)}), not at a true terminal: "
            "the tree is cut off there")
    stubs = sum(1 for _, d in tree.nodes(data=True) if d.get("unexplored"))
    if stubs:
        add(f"{stubs} lumen(s) seen by the scope were not explored: drawn as short stubs")
    un = (g.get("biplane") or {}).get("uncertain")
    if isinstance(un, dict) and un.get("fraction", 0) > 0:
        add(f"Ductogram rebuild: {100 * un['fraction']:.0f}% of the tree ({un['length_mm']:.0f} mm) is placed no "
            f"better than +-{un['sigma_mm']:g} mm (drawn with a halo): the readings of the two views disagree "
            "there, or it is seen in one view only")
    loops = tree.anastomoses()
    if loops:
        add(f"{len(loops)} loop(s) (anastomoses) in the tree; the plan follows the primary tree")
    return out


# --------------------------------------------------------------------------- building the data

def _sources(case: "Case") -> list[tuple[str, str]]:
    src = case.source
    out = []
    labels = {"tree": "tree file", "volume": "3D segmentation", "cc": "ductogram CC", "lateral": "ductogram lateral",
              "navlog": "scope navigation log"}
    for k in ("tree", "volume", "cc", "lateral", "navlog"):
        p = getattr(src, k)
        if p is not None:
            try:
                name = str(Path(p).resolve().relative_to(case.folder.resolve()))
            except ValueError:
                name = Path(p).name
            out.append((labels[k], name))
    if src.pixel_spacing_mm is not None:
        out.append(("pixel spacing", f"{src.pixel_spacing_mm:g} mm"))
    if src.magnification is not None:
        out.append(("magnification", f"{src.magnification:g}"))
    return out


def _lesion_row(les: Any) -> dict:
    def f(v: float | None, nd: int = 0) -> str:
        return "-" if v is None else f"{v:.{nd}f}"

    return {
        "label": les.label, "kind": les.kind, "size": f(les.size_mm, 1), "status": les.status,
        "system": "-" if les.system is None else f"{les.system} ({orifice_text(les.orifice_clock, half_hour=True)})",
        "clock": les.clock_half_hour or "-", "quadrant": les.quadrant or "-", "region": les.region or "-",
        "depth": f(les.depth_mm), "third": les.depth_third or "-", "fn": f(les.fn_mm),
        "path": f(les.path_mm), "distance": f(les.distance_from_nipple_mm),
        "note": {"placed": "", "ambiguous": f"ambiguous ({les.ambiguity or 'several ducts'} fit): see warnings",
                 "unplaced": "not placed: see warnings"}.get(les.status, les.status),
    }


def _plan_row(p: Any) -> dict:
    c = p.central
    reach = ("reaches lesion and subtree" if c["reaches_lesion"] and c["reaches_subtree"]
             else f"misses by {max(c['lesion_shortfall_mm'], c['subtree_shortfall_mm']):.0f} mm")
    inc = p.incision or {}
    sp = p.spared
    return {
        "system": str(p.system),
        "orifice": "clock not known" if p.orifice_clock is None else format_clock(p.orifice_clock, half_hour=True),
        "lesions": ", ".join(p.lesions), "status": p.status,
        "path": f"{p.involved_path_mm:.0f}", "volume": f"{p.envelope.volume_ml:.1f}",
        "removed_length": f"{100 * sp['length_removed_fraction']:.0f}%",
        "removed_tips": f"{sp['tips_removed']} of {sp['tips_total']} ({100 * sp['tips_removed_fraction']:.0f}%)",
        "systems_intact": f"{sp['systems_kept_intact']} of {sp['systems_total']}",
        "central": f"{p.central_excision_mm:g} mm: {reach}",
        "incision": (f"{inc.get('type', '')} at {format_clock(inc.get('centre_clock'), half_hour=True)}, "
                     f"arc {inc.get('arc_deg', 0):.0f} deg ({inc.get('start_clock_text', '')} to "
                     f"{inc.get('end_clock_text', '')})") if inc else "-",
        "wire": "; ".join(f"{w['label']} {w['depth_mm']:.0f} mm deep at {w['clock']}" for w in p.wire_targets),
        "margin": f"{p.margin_mm:g}",
    }


def build_report(case: "Case", *, views: Sequence[str] | None = None, size: Sequence[int] | None = None,
                 renderer: "Renderer | None" = None, scene: "Scene | None" = None,
                 images: dict[str, "np.ndarray"] | None = None) -> ReportData:
    """Gather the report's content; render the views not given in ``images``.

    ``views`` default to :data:`REPORT_VIEWS`; ``size`` (pixels) to
    :data:`REPORT_SIZE`. ``images`` maps view names to (H, W, 3) uint8
    arrays already rendered (e.g. by the batch, at any size).
    """
    from . import __version__
    from .measures import summary
    from .render import png_bytes, render_views
    from .scene import check_views, prepare_case

    tree, located, plans = prepare_case(case)
    views = check_views(views if views is not None else REPORT_VIEWS)
    have = dict(images or {})
    missing = [v for v in views if v not in have]
    if missing:
        rendered: dict = {}
        render_views(case, views=missing, out_dir=None, size=size or REPORT_SIZE, renderer=renderer, scene=scene,
                     images=rendered)
        have.update(rendered)
    facts = [("case", case.id), ("breast", {"R": "right (R)", "L": "left (L)"}[case.laterality])]
    if case.breast_depth_mm is not None:
        facts.append(("nipple to chest wall", f"{case.breast_depth_mm:g} mm"))
    if case.nipple_lps is not None:
        facts.append(("nipple (patient LPS)", ", ".join(f"{v:.1f}" for v in case.nipple_lps) + " mm"))
    facts.append(("plan margin", f"{case.plan.margin_mm:g} mm"))
    facts.append(("central excision compared", f"{case.plan.central_excision_mm:g} mm behind the nipple"))
    if case.note:
        facts.append(("note", case.note))
    return ReportData(
        case_id=case.id, laterality=case.laterality, sources=_sources(case), facts=facts,
        warnings=collect_warnings(case, tree, located, plans),
        lesions=[_lesion_row(les) for les in located], plans=[_plan_row(p) for p in plans],
        summary=summary(tree), images={v: png_bytes(have[v]) for v in views if v in have}, version=__version__,
    )


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;color:#111;margin:24px auto;max-width:1100px;padding:0 20px;line-height:1.35}
table.kv th{font-weight:normal;width:240px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px;margin:6px 0} th,td{border:1px solid #bbb;padding:3px 7px;text-align:left}
th{background:#eef1f5} .warn{background:#fff4e5;border:1px solid #f0a040;padding:8px 14px;border-radius:4px}
.warn li{margin:3px 0} .ok{background:#eef8ee;border:1px solid #7bbf7b;padding:8px 14px;border-radius:4px}
.views{display:flex;flex-wrap:wrap;gap:14px} figure{margin:0;width:48%} figure img{width:100%;border:1px solid #ccc}
figcaption{font-size:12px;color:#333} .muted{color:#666;font-size:12px}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table; with all headers empty, a key-value table (no header row, keys as row headers)."""
    e = html.escape
    if not any(headers):
        body = "".join(f"<tr><th scope='row'>{e(str(r[0]))}</th>" + "".join(f"<td>{e(str(c))}</td>" for c in r[1:])
                       + "</tr>" for r in rows)
        return f"<table class='kv'>{body}</table>"
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


LESION_COLUMNS = (("label", "lesion"), ("kind", "kind"), ("size", "size mm"), ("status", "placement"),
                  ("system", "duct system"), ("clock", "clock"), ("quadrant", "quadrant"), ("depth", "depth mm"),
                  ("third", "third"), ("fn", "from nipple axis mm"), ("path", "along duct mm"), ("note", "note"))
PLAN_FIELDS = (("lesions", "lesions"), ("system", "duct system"), ("orifice", "orifice"), ("status", "status"),
               ("path", "orifice to lesion along the duct (mm)"), ("margin", "margin (mm)"),
               ("volume", "excision envelope (mL)"), ("removed_length", "duct length removed"),
               ("removed_tips", "terminal branches removed"), ("systems_intact", "duct systems left intact"),
               ("central", "central (Hadfield) excision"), ("incision", "incision"), ("wire", "wire target"))
SUMMARY_FIELDS = (("systems", "duct systems"), ("branches", "branches"), ("tips", "terminal branches"),
                  ("max_generation", "deepest generation"), ("total_length_mm", "total duct length (mm)"),
                  ("depth_max_mm", "deepest duct behind the nipple (mm)"),
                  ("deepest_path_mm", "longest path from an orifice (mm)"))


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML document (images as data URIs, inline style)."""
    e = html.escape
    side = {"R": "Right", "L": "Left"}[data.laterality]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>ductree planning report: {e(data.case_id)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Planning report: {e(data.case_id)} ({e(side)} breast)</h1>",
             f"<div class='muted'>ductree {e(data.version)}. Coordinates: breast frame, mm; the clock as seen "
             "facing the patient (12 superior, 3 o'clock the patient's left).</div>",
             "<h2>Case</h2>", _table(("", ""), data.facts),
             "<h2>Sources used</h2>", _table(("source", "file"), data.sources) if data.sources else "<p>-</p>",
             "<h2>Warnings</h2>"]
    if data.warnings:
        parts.append("<div class='warn'><ul>" + "".join(f"<li>{e(w)}</li>" for w in data.warnings) + "</ul></div>")
    else:
        parts.append("<div class='ok'>No warnings.</div>")
    parts.append("<h2>Lesions</h2>")
    if data.lesions:
        parts.append(_table([h for _, h in LESION_COLUMNS], [[r[k] for k, _ in LESION_COLUMNS] for r in data.lesions]))
    else:
        parts.append("<p>No lesions in this case.</p>")
    parts.append("<h2>Excision plan</h2>")
    if data.plans:
        for p in data.plans:
            parts.append(_table(("", ""), [(h, p[k]) for k, h in PLAN_FIELDS]))
    else:
        parts.append("<p>No plan (no lesion placed on the tree).</p>")
    parts.append("<h2>Ductal tree</h2>")
    parts.append(_table(("", ""), [(h, _fmt(data.summary.get(k))) for k, h in SUMMARY_FIELDS]))
    per = data.summary.get("per_system") or []
    if per:
        parts.append(_table(("system", "orifice", "branches", "tips", "max generation", "length mm",
                             "deepest path mm", "max depth mm"),
                            [(p["system"], p["orifice_clock"] or "clock not known", p["branches"], p["tips"], p["max_generation"],
                              f"{p['length_mm']:.0f}", f"{p['deepest_path_mm']:.0f}", f"{p['depth_max_mm']:.0f}")
                             for p in per]))
    if data.images:
        parts.append("<h2>Views</h2><div class='views'>")
        for view, png in data.images.items():
            b64 = base64.b64encode(png).decode("ascii")
            parts.append(f"<figure><img alt='{e(view)} view' src='data:image/png;base64,{b64}'>"
                         f"<figcaption><b>{e(view)}</b>: {e(VIEW_CAPTIONS.get(view, ''))}</figcaption></figure>")
        parts.append("</div>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 10 else f"{v:.1f}"
    return "-" if v is None else str(v)


def write_html(data: ReportData, path: str | PathLike) -> Path:
    """Write the HTML report atomically."""
    from .atomic import write_text

    return write_text(path, render_html(data))


# --------------------------------------------------------------------------- PDF

_ASCII = {"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2265": ">=", "\u2264": "<=", "\u00b1": "+/-",
          "\u00d7": "x", "\u2192": "->", "\u2026": "...", "\u2018": "'", "\u2019": "'", "\u201c": '"',
          "\u201d": '"', "\u00b3": "^3", "\u00b2": "^2", "\u00b5": "u", "\u03bc": "u"}


def _pdf_text(s: Any) -> str:
    """Text safe for reportlab's core fonts (Latin-1), XML-escaped for Paragraph."""
    t = "".join(_ASCII.get(ch, ch) for ch in str(s))
    t = t.encode("latin-1", "replace").decode("latin-1")
    return html.escape(t, quote=False)


def write_pdf(data: ReportData, path: str | PathLike) -> Path:
    """Write the PDF report (A4) atomically with reportlab."""
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (Image, KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table,
                                    TableStyle)

    from .atomic import atomic_path

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    body = styles["BodyText"].clone("body", fontSize=9.5, leading=12)
    h2 = styles["Heading2"].clone("h2")
    h2.keepWithNext = 1  # a heading never ends a page alone (not a ParagraphStyle default: set, not passed)
    warn = styles["BodyText"].clone("warn", fontSize=9.5, leading=12, textColor=colors.HexColor("#8a3b00"))
    P = lambda s, st=body: Paragraph(_pdf_text(s), st)  # noqa: E731
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                       ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 3),
                       ("RIGHTPADDING", (0, 0), (-1, -1), 3)])
    kv = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                     ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef1f5")),
                     ("VALIGN", (0, 0), (-1, -1), "TOP")])
    width = A4[0] - 30 * mm
    side = {"R": "Right", "L": "Left"}[data.laterality]
    story: list = [Paragraph(_pdf_text(f"Planning report: {data.case_id} ({side} breast)"), styles["Title"]),
                   P(f"ductree {data.version}. Breast frame, mm; clock seen facing the patient (12 superior, "
                     "3 o'clock the patient's left).", small), Spacer(1, 4 * mm)]

    def kv_table(rows):
        t = Table([[P(a), P(b)] for a, b in rows], colWidths=[55 * mm, width - 55 * mm])
        t.setStyle(kv)
        return t

    story += [Paragraph("Case", h2), kv_table(data.facts)]
    story += [Paragraph("Sources used", h2), kv_table(data.sources or [("-", "-")])]
    story.append(Paragraph("Warnings", h2))
    if data.warnings:
        for w in data.warnings:
            story.append(P("- " + w, warn))
    else:
        story.append(P("No warnings."))
    story.append(Paragraph("Lesions", h2))
    if data.lesions:
        cols = LESION_COLUMNS
        rows = [[P(h, small) for _, h in cols]] + [[P(r[k], small) for k, _ in cols] for r in data.lesions]
        w = [14, 16, 11, 16, 24, 12, 16, 12, 14, 14, 13]
        rest = width / mm - sum(w)
        t = Table(rows, colWidths=[x * mm for x in w] + [max(rest, 15) * mm], repeatRows=1)
        t.setStyle(grid)
        story.append(t)
    else:
        story.append(P("No lesions in this case."))
    heading = Paragraph("Excision plan", h2)
    if data.plans:
        for i, p in enumerate(data.plans):
            table = kv_table([(h, p[k]) for k, h in PLAN_FIELDS])
            # The heading travels with the first plan (keepWithNext does not reach into a KeepTogether).
            story += [KeepTogether([heading, table] if i == 0 else [table]), Spacer(1, 3 * mm)]
    else:
        story += [heading, P("No plan (no lesion placed on the tree).")]
    story.append(Paragraph("Ductal tree", h2))
    story.append(kv_table([(h, _fmt(data.summary.get(k))) for k, h in SUMMARY_FIELDS]))
    if data.images:
        story.append(PageBreak())
        story.append(Paragraph("Views", h2))
        cells = []
        img_w = (width - 6 * mm) / 2
        for view, png in data.images.items():
            img = Image(io.BytesIO(png), width=img_w, height=img_w)
            cells.append([img, P(f"{view}: {VIEW_CAPTIONS.get(view, '')}", small)])
        rows = []
        for i in range(0, len(cells), 2):
            pair = cells[i:i + 2]
            rows.append([c[0] for c in pair] + [""] * (2 - len(pair)))
            rows.append([c[1] for c in pair] + [""] * (2 - len(pair)))
        t = Table(rows, colWidths=[img_w + 3 * mm] * 2)
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
        story.append(t)
    p = Path(path)
    with atomic_path(p) as tmp:
        doc = SimpleDocTemplate(str(tmp), pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                                bottomMargin=14 * mm, title=f"ductree planning report {data.case_id}",
                                author="ductree", invariant=1)
        doc.build(story)
    return p


# --------------------------------------------------------------------------- one call

def write_report(case: "Case", html_path: str | PathLike | None = None, *, pdf_path: str | PathLike | None = None,
                 views: Sequence[str] | None = None, size: Sequence[int] | None = None,
                 renderer: "Renderer | None" = None, scene: "Scene | None" = None,
                 images: dict[str, "np.ndarray"] | None = None) -> dict[str, Path]:
    """Write the planning report of a case: HTML and/or PDF. Returns ``{"html": path, "pdf": path}``.

    Output folders must exist (checked before any work). See :func:`build_report` for the
    other parameters.
    """
    from .atomic import check_output_path

    for p in (html_path, pdf_path):
        if p is not None:
            check_output_path(p)
    data = build_report(case, views=views, size=size, renderer=renderer, scene=scene, images=images)
    out: dict[str, Path] = {}
    if html_path is not None:
        out["html"] = write_html(data, html_path)
    if pdf_path is not None:
        out["pdf"] = write_pdf(data, pdf_path)
    return out
