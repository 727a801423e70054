// SVG charts drawn by hand: a sparkline for tables and a time chart with
// axes for the node page. Charts are drawn at the pixel width of their box
// (and redrawn when it changes) rather than scaled by a viewBox, so their
// text stays legible from a phone to a wide screen.
import { h, s, uid } from "./dom.ts";
import { clock, hhmm } from "./format.ts";

export type Point = [time: number, value: number];

/** Splits points where a gap longer than `gapMs` shows missing data (a node that was down). */
function segments(points: Point[], gapMs: number): Point[][] {
  const out: Point[][] = [];
  let cur: Point[] = [];
  for (const p of points) {
    if (cur.length && p[0] - cur[cur.length - 1]![0] > gapMs) {
      out.push(cur);
      cur = [];
    }
    cur.push(p);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** A small line of recent values (0..max) for a table cell; `label` is what a screen reader hears. */
export function sparkline(values: number[], max: number, label: string, cls: string): SVGSVGElement {
  const w = 96;
  const hgt = 24;
  const svg = s("svg", { class: `spark ${cls}`, width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: "img", "aria-label": label });
  svg.appendChild(s("title", null, label));
  if (values.length < 2 || max <= 0) {
    svg.appendChild(s("line", { x1: 0, x2: w, y1: hgt - 1, y2: hgt - 1, class: "spark-none" }));
    return svg;
  }
  const x = (i: number) => (i / (values.length - 1)) * w;
  const y = (v: number) => hgt - 1 - (Math.min(Math.max(v, 0), max) / max) * (hgt - 2);
  const line = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  svg.appendChild(s("polygon", { class: "spark-area", points: `0,${hgt} ${line} ${w},${hgt}` }));
  svg.appendChild(s("polyline", { class: "spark-line", points: line }));
  return svg;
}

export interface Series {
  label: string;
  /** CSS class giving the colour (chart-a, chart-b). */
  cls: string;
  points: Point[];
  /** Drawn as a filled area rather than a line. */
  area?: boolean;
  dashed?: boolean;
}

export interface ChartData {
  series: Series[];
  from: number;
  to: number;
  yMax: number;
  yFormat: (v: number) => string;
  /** Breaks lines across gaps longer than this. */
  gapMs: number;
}

/** A titled figure holding a time chart; `update` redraws it with new data. */
export function timeChart(title: string, summary: () => string, signal: AbortSignal): { el: HTMLElement; update(d: ChartData): void } {
  const captionId = uid("fig");
  const box = h("div", { class: "chart-box" });
  const caption = h("figcaption", { id: captionId });
  const legend = h("ul", { class: "legend" });
  const el = h("figure", { class: "chart" }, caption, box, legend);
  let data: ChartData | undefined;
  let width = 0;
  const draw = () => {
    if (!data) return;
    width = Math.max(260, Math.floor(box.clientWidth || 600));
    caption.textContent = `${title}: ${summary()}`;
    box.replaceChildren(drawChart(data, width, title));
    legend.replaceChildren(...data.series.map((sr) => h("li", null, h("span", { class: `swatch ${sr.cls}${sr.dashed ? " dashed" : ""}`, "aria-hidden": "true" }), sr.label)));
  };
  const ro = new ResizeObserver(() => {
    if (Math.floor(box.clientWidth) !== width) draw();
  });
  ro.observe(box);
  signal.addEventListener("abort", () => ro.disconnect(), { once: true });
  return {
    el,
    update(d) {
      data = d;
      draw();
    },
  };
}

function drawChart(d: ChartData, width: number, title: string): SVGSVGElement {
  const height = 190;
  const pad = { l: 56, r: 10, t: 10, b: 24 };
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const span = Math.max(1, d.to - d.from);
  const x = (t: number) => pad.l + ((t - d.from) / span) * iw;
  const y = (v: number) => pad.t + ih - (Math.min(Math.max(v, 0), d.yMax) / d.yMax) * ih;
  // The figure caption says what the chart shows; the drawing itself is decoration for screen readers.
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart-svg", "aria-hidden": "true", focusable: "false" });
  svg.dataset.title = title;
  for (let i = 0; i <= 4; i++) {
    const v = (d.yMax * i) / 4;
    svg.appendChild(s("line", { class: "grid", x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }));
    svg.appendChild(s("text", { class: "axis", x: pad.l - 6, y: y(v) + 4, "text-anchor": "end" }, d.yFormat(v)));
  }
  // Labels with seconds are wider: space them further apart.
  const withSeconds = span < 15 * 60_000;
  const ticks = Math.max(2, Math.min(6, Math.floor(iw / (withSeconds ? 130 : 90))));
  for (let i = 0; i <= ticks; i++) {
    const t = d.from + (span * i) / ticks;
    svg.appendChild(s("text", { class: "axis", x: x(t), y: height - 6, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" }, withSeconds ? clock(t) : hhmm(t)));
  }
  for (const sr of d.series) {
    for (const seg of segments(sr.points, d.gapMs)) {
      const pts = seg.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      if (seg.length === 1) {
        svg.appendChild(s("circle", { class: `dot ${sr.cls}`, cx: x(seg[0]![0]), cy: y(seg[0]![1]), r: 2.5 }));
        continue;
      }
      if (sr.area) svg.appendChild(s("polygon", { class: `area ${sr.cls}`, points: `${x(seg[0]![0])},${y(0)} ${pts} ${x(seg[seg.length - 1]![0])},${y(0)}` }));
      svg.appendChild(s("polyline", { class: `line ${sr.cls}${sr.dashed ? " dashed" : ""}`, points: pts }));
    }
  }
  if (d.series.every((sr) => sr.points.length === 0)) {
    svg.appendChild(s("text", { class: "axis", x: pad.l + iw / 2, y: pad.t + ih / 2, "text-anchor": "middle" }, "no samples yet"));
  }
  return svg;
}
