"""The HTML report of an evaluation: the four sections beside the reference figures, the memorisation
warning, and the nearest sample / reference pairs (pictures inline, copied text marked, piano rolls)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from aigc_studio.evaluate.job import SECTIONS, Evaluation
from aigc_studio.evaluate.pictures import data_uri, piano_roll, png_bytes

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f6f6f6; }
.unit { color: #777; font-size: 12px; } .warn { background: #fff3cd; border: 1px solid #e0b400; padding: 10px; }
.ok { background: #eef7ee; border: 1px solid #9c9; padding: 10px; }
table.pair { margin: 10px 0; border: 1px solid #ddd; } table.pair td { border: none; vertical-align: top; }
table.pair.copied { border-color: #e0b400; background: #fffbea; }
.pair img { image-rendering: pixelated; border: 1px solid #ccc; } mark { background: #ffd36b; }
pre { white-space: pre-wrap; font: 13px/1.4 ui-monospace, monospace; margin: 4px 0; }
.cap { color: #555; font-size: 12px; }
"""


def html_report(result: Evaluation) -> str:
    """A self-contained HTML page (no external files) for one evaluation."""
    name = result.figures["model"]["name"]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation of {_e(name)}</title>"
        f"<style>{STYLE}</style></head><body>{html_body(result, data_uri)}"
        f"<h2>JSON</h2><pre>{_e(json.dumps(result.figures, indent=1, ensure_ascii=False))}</pre></body></html>"
    )


def html_body(result: Evaluation, image_src: Callable[[bytes], str]) -> str:
    """Title, warning, the four sections and the nearest pairs; ``image_src`` turns PNG bytes into an <img> src."""
    f = result.figures
    m, ref = f["model"], f["reference"]
    parts = [
        f"<h1>Evaluation of {_e(m['name'])} <span class='unit'>{_e(m['kind'])} · {_e((m.get('hash') or '')[:12])}</span></h1>",
        f"<p>Reference: {_e(ref.get('path') or 'none')} ({ref.get('items', 0)} {_e(ref.get('what', ''))}). "
        f"{f['settings']['samples']} samples, seed {f['settings']['seed']}. "
        f"{_e(f.get('reference_figures', {}).get('how', ''))}</p>",
    ]
    memo = f.get("memorisation", {})
    if memo.get("warning"):
        parts.append(f"<p class='warn'><b>Memorisation warning.</b> {_e(memo['warning'])}</p>")
    elif memo.get("rule"):
        parts.append(f"<p class='ok'>No sample is {_e(memo['rule'])}.</p>")
    for section in SECTIONS:
        parts.append(f"<h2>{section.capitalize()}</h2>{_table(f, section)}")
    if f.get("missing"):
        parts.append("<h2>Missing figures</h2><ul>")
        parts += [f"<li>{_e(k)}: {_e(v)}</li>" for k, v in f["missing"].items()]
        parts.append("</ul>")
    if result.pairs:
        parts.append("<h2>Samples nearest to the reference</h2>")
        parts += [_pair(p, result.kind, image_src) for p in result.pairs]
    return "\n".join(parts)


def _table(f: dict[str, Any], section: str) -> str:
    values = f.get(section) or {}
    ref = (f.get("reference_figures") or {}).get(section) or {}
    units = f.get("units") or {}
    rows = ["<table><tr><th>figure</th><th>model</th><th>reference</th><th>meaning</th></tr>"]
    for name, value in values.items():
        if name == "nearest":
            continue
        rows.append(
            f"<tr><td>{_e(name)}</td><td class='num'>{_e(_fmt(value))}</td>"
            f"<td class='num'>{_e(_fmt(ref.get(name, '')))}</td><td class='unit'>{_e(units.get(name, ''))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _pair(p: Any, kind: str, image_src: Callable[[bytes], str]) -> str:
    head = f"{_e(p.sample_label)} → nearest: {_e(p.reference_label)} (distance {p.distance:.4f})"
    head += " — <b>looks copied</b>" if p.memorised else ""
    if kind.startswith("image"):
        left = f"<img src='{image_src(png_bytes(p.sample))}' alt='sample'>"
        right = f"<img src='{image_src(png_bytes(p.reference))}' alt='reference'>"
    elif kind.startswith("text"):
        left = f"<pre>{_marked(p.sample, p.sample_span)}</pre>"
        right = f"<pre>{_marked(p.reference, p.reference_span)}</pre>"
    else:
        left = f"<img src='{image_src(png_bytes(piano_roll(p.sample, highlight=p.sample_span), 1))}' alt='sample'>"
        right = f"<img src='{image_src(png_bytes(piano_roll(p.reference, highlight=p.reference_span), 1))}' alt='reference'>"
    cls = "pair copied" if p.memorised else "pair"
    return (
        f"<table class='{cls}' width='100%'><tr><td colspan='2' class='cap'>{head}</td></tr>"
        f"<tr><td class='cap' width='50%'>sample</td><td class='cap'>reference</td></tr>"
        f"<tr><td valign='top'>{left}</td><td valign='top'>{right}</td></tr></table>"
    )


def _marked(text: str, span: tuple[int, int] | None) -> str:
    if not span or span[1] <= span[0]:
        return _e(text)
    a, b = span
    return f"{_e(text[:a])}<mark>{_e(text[a:b])}</mark>{_e(text[b:])}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _e(text: Any) -> str:
    return html.escape(str(text))
