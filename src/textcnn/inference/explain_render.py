"""Explanations as text for a terminal and as a self-contained HTML page (the original text highlighted).

Each token's score (its share of the contributions) colours the characters it came from: green
for the explained class, red against it, stronger for larger scores; hovering shows the score.
"""

from __future__ import annotations

import html

from textcnn.inference.explain import ClassExplanation, Explanation


def render_text(explanation: Explanation, top: int = 10) -> str:
    """The explained classes of one text, each with its logit as bias + the largest contributions."""
    lines = [explanation.text if explanation.text else "(empty text)"]
    if explanation.note:
        lines.append(f"  {explanation.note}")
    for item in explanation.explained:
        shown = sum(part.contribution for part in item.items[:top])
        rest = item.rest + sum(part.contribution for part in item.items[top:])
        lines.append(
            f"  {item.label} (probability {item.probability:.3f}): logit {item.logit:+.3f} = bias {item.bias:+.3f}"
            f" + these {shown:+.3f}" + (f" + the rest {rest:+.3f}" if abs(rest) > 5e-4 else "")
        )
        for part in item.items[:top]:
            lines.append(f"    {part.contribution:+8.3f}  {part.source:<11}  {part.ngram!r}")
    return "\n".join(lines)


def highlight_segments(text: str, chars: list[tuple[int, int]], scores: list[float]) -> list[tuple[str, float | None]]:
    """``text`` cut into (piece, score) runs: a token's characters carry its score (tokens that share
    characters, like a case marker and its word, add up), the characters between tokens carry None."""
    per_span: dict[tuple[int, int], float] = {}
    for span, score in zip(chars, scores):
        if span[1] > span[0]:
            per_span[span] = per_span.get(span, 0.0) + score
    segments: list[tuple[str, float | None]] = []
    cursor = 0
    for (start, end), score in sorted(per_span.items()):
        if start < cursor:  # overlapping spans (a tokenizer that splits one character): keep the first
            continue
        if start > cursor:
            segments.append((text[cursor:start], None))
        segments.append((text[start:end], score))
        cursor = end
    if cursor < len(text):
        segments.append((text[cursor:], None))
    return segments


def _class_html(explanation: Explanation, item: ClassExplanation, top: int) -> str:
    scale = max((abs(score) for score in item.token_scores), default=0.0) or 1.0
    marked = []
    for piece, score in highlight_segments(explanation.text, explanation.token_chars, item.token_scores):
        if score is None:
            marked.append(html.escape(piece))
            continue
        alpha = min(1.0, abs(score) / scale) * 0.75
        colour = f"rgba(22, 163, 74, {alpha:.3f})" if score >= 0 else f"rgba(220, 38, 38, {alpha:.3f})"
        marked.append(f'<span class="tok" style="background:{colour}" title="{score:+.4f}">{html.escape(piece)}</span>')
    rows = "".join(
        f"<tr><td class=num>{part.contribution:+.3f}</td><td>{html.escape(part.source)}</td>"
        f"<td>{html.escape(part.ngram)}</td></tr>"
        for part in item.items[:top]
    )
    return (
        f"<h3>{html.escape(str(item.label))} <small>probability {item.probability:.3f}, logit {item.logit:+.3f}, "
        f"bias {item.bias:+.3f}</small></h3><p class=text>{''.join(marked)}</p>"
        f"<table><tr><th>contribution</th><th>source</th><th>n-gram</th></tr>{rows}</table>"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}.text{font-size:1.25em;line-height:1.8}"
    ".tok{border-radius:3px;padding:0 1px}table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left}"
    ".num{text-align:right;font-variant-numeric:tabular-nums}small{color:#555;font-weight:normal}"
)


def render_html(explanations: list[Explanation], top: int = 10, title: str = "textcnn explanations") -> str:
    """One self-contained page (inline CSS, no script, no external resource) for all ``explanations``."""
    sections = []
    for explanation in explanations:
        note = f"<p><em>{html.escape(explanation.note)}</em></p>" if explanation.note else ""
        body = "".join(_class_html(explanation, item, top) for item in explanation.explained)
        sections.append(f"<section>{note}{body}</section><hr>")
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>\n"
    )
