"""HTML building blocks of the static report: page, sections, tables, figures and "no data" notes.

Every piece of text that comes from an input file goes through `html.escape`; the page embeds its CSS
and images, so it opens from disk with no network (the machines are offline).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from datetime import date, datetime

import polars as pl

NO_DATA = "no data"

_CSS = """
:root { --fg: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #2f6fb2; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; }
header { background: #102a43; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #bcccdc; }
nav { padding: 10px 32px; border-bottom: 1px solid var(--line); background: #f5f7fa; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1440px; }
section { border-bottom: 1px solid var(--line); padding-bottom: 12px; }
h2 { margin-top: 28px; } h3 { margin-bottom: 6px; color: #334e68; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; max-width: 100%; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: right; }
th { background: #f0f4f8; } td.text, th.text { text-align: left; }
td.text, header p { overflow-wrap: break-word; }
figure.plot { margin: 8px 0 16px; }
figure.plot img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12px; }
p.no-data { color: var(--muted); font-style: italic; background: #f5f7fa; padding: 6px 10px; }
p.note { color: var(--muted); font-size: 12px; }
.badge { padding: 1px 6px; border-radius: 8px; font-size: 12px; background: #d9e2ec; white-space: nowrap; }
.badge.deployed { background: #c6f7e2; } .badge.rejected { background: #ffd8d8; }
.badge.skipped { background: #fff3c4; }
"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def cell(value: object) -> str:
    """A table cell's text: floats to 3 decimals, missing as an em dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def table(df: pl.DataFrame, badges: Sequence[str] = ()) -> str:
    """A frame as an HTML table; text columns left-aligned; columns in `badges` drawn as status badges."""
    text = {c for c, t in df.schema.items() if t == pl.String}
    head = "".join(f'<th class="{"text" if c in text else ""}">{_breakable(c)}</th>' for c in df.columns)
    rows = []
    for row in df.iter_rows(named=True):
        cells = []
        for c, v in row.items():
            content = _breakable(cell(v)) if c in text else esc(cell(v))
            if c in badges and v is not None:
                content = f'<span class="badge {esc(slug(str(v)))}">{content}</span>'
            cells.append(f'<td class="{"text" if c in text else ""}">{content}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _breakable(name: str) -> str:
    """Text that may wrap after its underscores (`candidate_value`, `device_intelligence`): twelve such
    columns side by side are wider than a 1280 px window, and a table may not push the page sideways."""
    return "_<wbr>".join(esc(part) for part in name.split("_"))


def key_values(items: Sequence[tuple[str, object]]) -> str:
    rows = "".join(
        f'<tr><th class="text">{esc(k)}</th><td class="text">{esc(cell(v))}</td></tr>' for k, v in items
    )
    return f"<table><tbody>{rows}</tbody></table>"


def figure(uri: str, caption: str) -> str:
    text = esc(caption)
    return f'<figure class="plot"><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def no_data(why: str) -> str:
    return f'<p class="no-data">{NO_DATA}: {esc(why)}</p>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def subsection(title: str, body: str) -> str:
    return f"<h3>{esc(title)}</h3>\n{body}"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}">\n<h2>{esc(title)}</h2>\n{body}\n</section>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A whole page from (anchor, title, body) sections, with a table of contents."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "\n".join(section(a, t, b) for a, t, b in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # an inline empty icon: browsers otherwise request /favicon.ico (a console error offline)
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>\n"
        f"<nav>{nav}</nav>\n<main>\n{body}\n</main></body></html>\n"
    )
