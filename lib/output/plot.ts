/**
 * The two pictures of torchaudio's speech recognition tutorial, as PNG: the per-layer feature heatmaps
 * ("Feature from transformer layer N": frame x feature) and the emission heatmap (class x frame, with the
 * labels on the class axis). Drawn with @napi-rs/canvas (Skia); colours are matplotlib's viridis.
 */
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import type { Tensor } from '../tensor';

// viridis at 9 stops (matplotlib), interpolated linearly.
const VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
] as const;

function colour(v: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, v)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

const FONT = '13px sans-serif';
const MARGIN = { left: 70, right: 20, top: 30, bottom: 45 };

/**
 * Draws `rows x cols` values (row-major) as an image: row 0 at the top, as matplotlib's imshow does.
 * Each value maps to a pixel block of `cell` size; the image is placed at (x, y).
 */
function heatmap(g: SKRSContext2D, values: Float32Array, rows: number, cols: number, x: number, y: number, w: number, h: number): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi > lo ? hi - lo : 1;
  const img = g.createImageData(w, h);
  for (let py = 0; py < h; py++) {
    const r = Math.min(rows - 1, Math.floor((py / h) * rows));
    for (let px = 0; px < w; px++) {
      const c = Math.min(cols - 1, Math.floor((px / w) * cols));
      const [cr, cg, cb] = colour((values[r * cols + c]! - lo) / span);
      const o = (py * w + px) * 4;
      img.data[o] = cr;
      img.data[o + 1] = cg;
      img.data[o + 2] = cb;
      img.data[o + 3] = 255;
    }
  }
  g.putImageData(img, x, y);
}

function axes(g: SKRSContext2D, x: number, y: number, w: number, h: number, title: string, xlabel: string, ylabel: string, xmax: number, ymax: number): void {
  g.fillStyle = '#000';
  g.strokeStyle = '#000';
  g.font = FONT;
  g.strokeRect(x - 0.5, y - 0.5, w + 1, h + 1);
  g.textAlign = 'center';
  g.fillText(title, x + w / 2, y - 10);
  g.fillText(xlabel, x + w / 2, y + h + 35);
  g.textAlign = 'right';
  for (const [v, px] of [[0, 0], [xmax, w]] as const) {
    g.textAlign = px === 0 ? 'left' : 'right';
    g.fillText(String(v), x + px, y + h + 16);
  }
  g.textAlign = 'right';
  g.fillText('0', x - 6, y + 10);
  g.fillText(String(ymax), x - 6, y + h);
  g.save();
  g.translate(x - 40, y + h / 2);
  g.rotate(-Math.PI / 2);
  g.textAlign = 'center';
  g.fillText(ylabel, 0, 0);
  g.restore();
}

/** Feature heatmaps, one panel per layer: frames down, feature dimension across (item 0 of the batch). */
export function renderFeatures(features: Tensor[]): Buffer {
  const panelW = 420;
  const panelH = 220;
  const cols = Math.min(2, features.length);
  const rowsOfPanels = Math.ceil(features.length / cols);
  const W = cols * (panelW + MARGIN.left + MARGIN.right);
  const H = rowsOfPanels * (panelH + MARGIN.top + MARGIN.bottom);
  const canvas = createCanvas(W, H);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  features.forEach((f, i) => {
    const [, F, D] = f.shape as [number, number, number];
    const x = (i % cols) * (panelW + MARGIN.left + MARGIN.right) + MARGIN.left;
    const y = Math.floor(i / cols) * (panelH + MARGIN.top + MARGIN.bottom) + MARGIN.top;
    heatmap(g, f.data.subarray(0, F * D), F, D, x, y, panelW, panelH);
    axes(g, x, y, panelW, panelH, `Feature from transformer layer ${i + 1}`, 'Feature dimension', 'Frame (time-axis)', D, F);
  });
  return canvas.toBuffer('image/png');
}

/** Emission heatmap: classes down (labelled), frames across (item 0 of the batch, its valid frames). */
export function renderEmission(emission: Tensor, labels: readonly string[] | undefined, frames?: number): Buffer {
  const [, Fall, C] = emission.shape as [number, number, number];
  const F = frames ?? Fall;
  // Transpose to class x frame, as the tutorial plots emission[0].T.
  const t = new Float32Array(C * F);
  for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) t[c * F + f] = emission.data[f * C + c]!;
  const rowH = 14;
  const w = Math.max(400, Math.min(1600, F * 4));
  const h = C * rowH;
  const W = w + MARGIN.left + MARGIN.right;
  const H = h + MARGIN.top + MARGIN.bottom;
  const canvas = createCanvas(W, H);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  heatmap(g, t, C, F, MARGIN.left, MARGIN.top, w, h);
  axes(g, MARGIN.left, MARGIN.top, w, h, 'The output from the acoustic model', 'Frame (time-axis)', '', F, C);
  g.font = '11px sans-serif';
  g.textAlign = 'right';
  g.fillStyle = '#000';
  g.clearRect(0, MARGIN.top - 2, MARGIN.left - 1, h + 4);
  g.fillStyle = '#fff';
  g.fillRect(0, MARGIN.top - 2, MARGIN.left - 1, h + 4);
  g.fillStyle = '#000';
  for (let c = 0; c < C; c++) {
    const label = labels?.[c] ?? String(c);
    g.fillText(labels ? `${label} (${c})` : label, MARGIN.left - 6, MARGIN.top + c * rowH + rowH - 3);
  }
  return canvas.toBuffer('image/png');
}
