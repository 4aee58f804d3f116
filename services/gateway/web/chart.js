// Charts as standalone SVG (presentation attributes only, so the strict Content-Security-
// Policy allows them and a downloaded file looks the same), described for screen readers.
const NS = "http://www.w3.org/2000/svg";
const COLOURS = ["#2C6496", "#39C6C0", "#F2A541", "#616161", "#8E6BBF"];
const SIZE = { width: 640, height: 360, left: 72, right: 16, top: 40, bottom: 48 };
const compact = new Intl.NumberFormat("en-US", {
  style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1,
});

function element(name, attributes = {}, text = null) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function ticks(low, high, count = 5) {
  const span = high - low || 1;
  const rough = span / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  const first = Math.ceil(low / step) * step;
  const found = [];
  for (let value = first; value <= high + step / 1e6; value += step) found.push(value);
  return found;
}

export function lineChart(xs, lines, { title, x, y }) {
  // A line per {name, values} over the shared xs, with axes, ticks and a legend.
  const all = lines.flatMap((line) => line.values);
  const low = Math.min(0, ...all);
  const high = Math.max(...all, 1);
  const { width, height, left, right, top, bottom } = SIZE;
  const px = (value) => left + ((value - xs[0]) / (xs[xs.length - 1] - xs[0])) * (width - left - right);
  const py = (value) => height - bottom - ((value - low) / (high - low)) * (height - top - bottom);
  const svg = element("svg", {
    xmlns: NS, viewBox: `0 0 ${width} ${height}`, role: "img", "font-family": "sans-serif",
    "font-size": 12,
  });
  const described = `${title}: ${lines
    .map((line) => `${line.name} from ${compact.format(line.values[0])} to ${compact.format(line.values.at(-1))}`)
    .join("; ")}`;
  svg.append(element("title", {}, title), element("desc", {}, described));
  svg.setAttribute("aria-label", described);
  svg.append(element("rect", { x: 0, y: 0, width, height, fill: "#ffffff" }));
  for (const value of ticks(low, high)) {
    svg.append(element("line", {
      x1: left, x2: width - right, y1: py(value), y2: py(value), stroke: "#e0e0e0",
    }));
    svg.append(element("text", { x: left - 6, y: py(value) + 4, "text-anchor": "end" }, compact.format(value)));
  }
  for (const value of ticks(xs[0], xs[xs.length - 1])) {
    svg.append(element("text", { x: px(value), y: height - bottom + 18, "text-anchor": "middle" }, compact.format(value)));
  }
  svg.append(element("line", {
    x1: left, x2: width - right, y1: py(0), y2: py(0), stroke: "#616161",
  }));
  svg.append(element("text", { x: (left + width - right) / 2, y: height - 8, "text-anchor": "middle" }, x));
  svg.append(element("text", {
    x: 14, y: (top + height - bottom) / 2, "text-anchor": "middle",
    transform: `rotate(-90 14 ${(top + height - bottom) / 2})`,
  }, y));
  lines.forEach((line, index) => {
    const points = line.values.map((value, i) => `${px(xs[i]).toFixed(1)},${py(value).toFixed(1)}`);
    svg.append(element("polyline", {
      points: points.join(" "), fill: "none", stroke: COLOURS[index % COLOURS.length],
      "stroke-width": 2.5, "data-line": line.name,
    }));
    const legendX = left + index * 140;
    svg.append(element("rect", { x: legendX, y: 12, width: 14, height: 4, fill: COLOURS[index % COLOURS.length] }));
    svg.append(element("text", { x: legendX + 20, y: 18 }, line.name));
  });
  return svg;
}

export function barChart(categories, series, { title, format }) {
  // Grouped bars: for each category, one bar per {name, values} of `series` (a null
  // value draws no bar), a zero line, value ticks and, for several series, a legend.
  const values = series.flatMap((one) => one.values).filter((v) => typeof v === "number");
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values) || (low < 0 ? 0 : 1);
  const turned = categories.length > 8 || categories.some((label) => label.length > 12);
  const longest = Math.max(...categories.map((label) => label.length));
  const { width, left, right } = SIZE;
  const top = series.length > 1 ? 28 + 18 * Math.ceil(series.length / 3) : 40;
  const bottom = turned ? Math.min(160, 24 + longest * 5.5) : 40;
  const height = 300 + top + bottom;
  const py = (value) => height - bottom - ((value - low) / (high - low || 1)) * (height - top - bottom);
  const group = (width - left - right) / Math.max(categories.length, 1);
  const bar = (group * 0.8) / Math.max(series.length, 1);
  const svg = element("svg", {
    xmlns: NS, viewBox: `0 0 ${width} ${height}`, role: "img", "font-family": "sans-serif",
    "font-size": 11,
  });
  const described = `${title}, a bar chart of ${categories.length} groups` +
    (series.length > 1 ? ` by ${series.map((one) => one.name).join(", ")}` : "");
  svg.append(element("title", {}, title), element("desc", {}, described));
  svg.setAttribute("aria-label", described);
  svg.append(element("rect", { x: 0, y: 0, width, height, fill: "#ffffff" }));
  for (const value of ticks(low, high)) {
    svg.append(element("line", { x1: left, x2: width - right, y1: py(value), y2: py(value), stroke: "#e0e0e0" }));
    svg.append(element("text", { x: left - 6, y: py(value) + 4, "text-anchor": "end" }, format(value)));
  }
  categories.forEach((label, c) => {
    const centre = left + group * (c + 0.5);
    const y = height - bottom + 14;
    svg.append(turned
      ? element("text", { x: centre, y, "text-anchor": "end", transform: `rotate(-45 ${centre} ${y})` }, label)
      : element("text", { x: centre, y, "text-anchor": "middle" }, label));
    series.forEach((one, s) => {
      const value = one.values[c];
      if (typeof value !== "number") return;
      const rect = element("rect", {
        x: (left + group * c + group * 0.1 + bar * s).toFixed(1),
        y: Math.min(py(value), py(0)).toFixed(1),
        width: Math.max(bar - 1, 1).toFixed(1),
        height: Math.max(Math.abs(py(value) - py(0)), 0.5).toFixed(1),
        fill: COLOURS[s % COLOURS.length],
      });
      rect.append(element("title", {}, `${one.name}, ${label}: ${format(value)}`));
      svg.append(rect);
    });
  });
  svg.append(element("line", { x1: left, x2: width - right, y1: py(0), y2: py(0), stroke: "#616161" }));
  if (series.length > 1) {
    series.forEach((one, s) => {
      const x = left + (s % 3) * 190;
      const y = 14 + 18 * Math.floor(s / 3);
      svg.append(element("rect", { x, y: y - 9, width: 12, height: 12, fill: COLOURS[s % COLOURS.length] }));
      svg.append(element("text", { x: x + 18, y: y + 1 }, one.name.length > 28 ? `${one.name.slice(0, 27)}…` : one.name));
    });
  }
  return svg;
}

export function svgDownload(link, svg) {
  // Points `link` at a standalone copy of `svg`.
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  const text = new XMLSerializer().serializeToString(svg);
  link.href = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
}
