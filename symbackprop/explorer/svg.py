"""The network as inline SVG: one column per layer, one line per weight, one circle per neuron.

Every weight's line has an id (``e-l-j-k``) and a wide transparent twin on top of it that
takes the click (a 1-pixel line is hard to hit on a projector); every neuron's circle
stands for its bias (``data-p="b2_1"``), with a transparent ring 6 units wider that takes
the click too. Colours and widths are set by the page's script
from the weights it shows (the start, a step, or an epoch of training).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from ..notation import text_name

__all__ = ["layout", "network_svg", "WIDTH"]

#: The drawing's width in SVG units (it scales to the width of its box).
WIDTH = 960


def layout(sizes: list[int]) -> dict:
    """Positions of every neuron (and of J) and the sizes to draw them at.

    Examples
    --------
    >>> lay = layout([2, 3, 1])
    >>> len(lay["x"]), [len(col) for col in lay["y"]], lay["width"]
    (4, [2, 3, 1, 1], 960)
    """
    widest = max(sizes)
    gap = max(26.0, min(120.0, 560.0 / max(widest - 1, 1)))
    height = round(max(300.0, gap * (widest - 1) + 140))
    cols = len(sizes) + 1  # the layers, then J
    left, right = 70.0, WIDTH - 70.0
    xs = [left + i * (right - left) / (cols - 1) for i in range(cols)]
    mid = (height + 20) / 2
    ys = [[mid + (j - (n - 1) / 2) * gap for j in range(n)] for n in [*sizes, 1]]
    radius = max(8.0, min(24.0, gap * 0.3))
    return {"x": xs, "y": ys, "r": radius, "width": WIDTH, "height": height, "gap": gap}


def network_svg(net, prefix: str, clickable: bool = True) -> str:
    """The SVG of ``net`` with element ids starting with ``prefix``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> svg = network_svg(sbp.mlp([2, 2, 1]), "m")
    >>> svg.count('class="w"'), 'id="m-e-1-2-1"' in svg, 'data-p="b1_2"' in svg
    (6, True, True)
    """
    sizes = list(net.sizes)
    lay = layout(sizes)
    xs, ys, r = lay["x"], lay["y"], lay["r"]
    L = len(sizes) - 1
    out = [f'<svg id="{prefix}-svg" class="sbp-net" viewBox="0 0 {lay["width"]} {lay["height"]}" '
           f'role="img" aria-label="the {escape(net.describe())}">']
    # Column headings: the layer and its activation.
    heads = ["inputs x"] + [f"layer {l}: {net.activations[l - 1].name}" for l in range(1, L + 1)] + [
        f"loss J ({net.loss.name})"]
    out.append('<g class="heads">')
    for i, text in enumerate(heads):
        last = i == len(heads) - 1  # flush right, so that a long loss name stays inside
        anchor, x = ("end", lay["width"] - 6) if last else ("middle", xs[i])
        out.append(f'<text x="{x:.1f}" y="18" text-anchor="{anchor}">{escape(text)}</text>')
    out.append("</g>")
    lines, hits = ['<g class="edges">'], ['<g class="hits">']
    for l in range(1, L + 1):
        for j in range(1, sizes[l] + 1):
            for k in range(1, sizes[l - 1] + 1):
                x1, y1, x2, y2 = xs[l - 1], ys[l - 1][k - 1], xs[l], ys[l][j - 1]
                name = f"w{l}_{j}_{k}"
                geo = f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"'
                lines.append(f'<line id="{prefix}-e-{l}-{j}-{k}" class="w" data-p="{name}" {geo}/>')
                if clickable:
                    hits.append(f'<line class="hit" data-p="{name}" {geo}><title>'
                                f'{escape(text_name(net.w(l, j, k)))}: click for ∂J/∂w</title></line>')
    for j in range(1, sizes[L] + 1):
        lines.append(f'<line id="{prefix}-o-{j}" class="o" x1="{xs[L]:.1f}" y1="{ys[L][j - 1]:.1f}" '
                     f'x2="{xs[L + 1]:.1f}" y2="{ys[L + 1][0]:.1f}"/>')
    lines.append("</g>")
    hits.append("</g>")
    out += lines
    if clickable:
        out += hits
    if clickable:  # a ring around each neuron that also takes the click for its bias
        out.append('<g class="nhits">')
        for l in range(1, L + 1):
            for j in range(1, sizes[l] + 1):
                out.append(f'<circle class="nhit" data-p="b{l}_{j}" cx="{xs[l]:.1f}" '
                           f'cy="{ys[l][j - 1]:.1f}" r="{r + 6:.1f}"/>')
        out.append("</g>")
    out.append('<g class="nodes">')
    for k in range(1, sizes[0] + 1):
        out.append(f'<circle id="{prefix}-n-0-{k}" class="x" cx="{xs[0]:.1f}" cy="{ys[0][k - 1]:.1f}" r="{r:.1f}"/>')
    for l in range(1, L + 1):
        for j in range(1, sizes[l] + 1):
            name = f"b{l}_{j}"
            tip = f'<title>{escape(text_name(net.b(l, j)))}: click for ∂J/∂b</title>' if clickable else ""
            out.append(f'<circle id="{prefix}-n-{l}-{j}" class="n" data-p="{name}" '
                       f'cx="{xs[l]:.1f}" cy="{ys[l][j - 1]:.1f}" r="{r:.1f}">{tip}</circle>')
    out.append(f'<circle id="{prefix}-n-J" class="J" cx="{xs[L + 1]:.1f}" cy="{ys[L + 1][0]:.1f}" r="{r * 1.25:.1f}"/>')
    out.append("</g>")
    # Names inside the circles (where they fit), values beside them (filled by the script).
    small = r < 13
    out.append(f'<g class="names{" small" if small else ""}">')
    for k in range(1, sizes[0] + 1):
        out.append(f'<text x="{xs[0]:.1f}" y="{ys[0][k - 1]:.1f}">{escape(text_name(net.x(k)))}</text>')
    for l in range(1, L + 1):
        for j in range(1, sizes[l] + 1):
            out.append(f'<text x="{xs[l]:.1f}" y="{ys[l][j - 1]:.1f}">{j}</text>')
    out.append(f'<text x="{xs[L + 1]:.1f}" y="{ys[L + 1][0]:.1f}">J</text>')
    out.append("</g>")
    out.append('<g class="vals">')
    for l in range(0, L + 1):
        for j in range(1, sizes[l] + 1):
            out.append(f'<text id="{prefix}-v-{l}-{j}" x="{xs[l] + r + 3:.1f}" y="{ys[l][j - 1] - r * 0.35:.1f}"/>')
    out.append(f'<text id="{prefix}-v-J" x="{xs[L + 1]:.1f}" y="{ys[L + 1][0] + r * 1.25 + 16:.1f}" '
               'text-anchor="middle"/>')
    out.append("</g>")
    out.append(f'<g id="{prefix}-labels" class="elabels"></g>')
    out.append("</svg>")
    return "\n".join(out)
