/** A line chart as PNG (@napi-rs/canvas, as lib/output/plot.ts): × real time against batch size, one line per runtime. */
import { createCanvas } from '@napi-rs/canvas';

export interface Series { name: string; points: Array<[number, number]> }

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

export function lineChart(title: string, xLabel: string, yLabel: string, panels: Array<{ title: string; series: Series[] }>): Buffer {
  const pw = 420;
  const ph = 320;
  const m = { left: 60, right: 15, top: 40, bottom: 45 };
  // wide enough for the title however few panels there are
  const canvas = createCanvas(Math.max(pw * panels.length, 12 + title.length * 8), ph + 30);
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#000';
  g.font = 'bold 15px sans-serif';
  g.fillText(title, 10, 20);
  panels.forEach((panel, pi) => {
    const ox = pi * pw;
    const oy = 30;
    const xs = panel.series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = panel.series.flatMap((s) => s.points.map((p) => p[1]));
    if (xs.length === 0) return;
    const x0 = Math.min(...xs);
    const x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
    const y1 = Math.max(...ys) * 1.1 || 1;
    const W = pw - m.left - m.right;
    const H = ph - m.top - m.bottom;
    const px = (x: number) => ox + m.left + ((x - x0) / (x1 - x0)) * W;
    const py = (y: number) => oy + m.top + H - (y / y1) * H;
    g.strokeStyle = '#000';
    g.lineWidth = 1;
    g.strokeRect(ox + m.left, oy + m.top, W, H);
    g.font = '13px sans-serif';
    g.fillStyle = '#000';
    g.fillText(panel.title, ox + m.left, oy + m.top - 8);
    g.font = '11px sans-serif';
    for (const x of [...new Set(xs)]) {
      g.fillText(String(x), px(x) - 3, oy + m.top + H + 14);
    }
    for (let k = 0; k <= 4; k++) {
      const y = (y1 * k) / 4;
      g.fillText(y.toFixed(y1 < 10 ? 1 : 0), ox + 5, py(y) + 4);
      g.strokeStyle = '#ddd';
      g.beginPath();
      g.moveTo(ox + m.left, py(y));
      g.lineTo(ox + m.left + W, py(y));
      g.stroke();
    }
    g.fillText(xLabel, ox + m.left + W / 2 - 20, oy + m.top + H + 32);
    g.save();
    g.translate(ox + 14, oy + m.top + H / 2 + 30);
    g.rotate(-Math.PI / 2);
    g.fillText(yLabel, 0, 0);
    g.restore();
    panel.series.forEach((s, si) => {
      const c = COLOURS[si % COLOURS.length]!;
      g.strokeStyle = c;
      g.fillStyle = c;
      g.lineWidth = 2;
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      g.beginPath();
      pts.forEach(([x, y], i) => (i ? g.lineTo(px(x), py(y)) : g.moveTo(px(x), py(y))));
      g.stroke();
      for (const [x, y] of pts) g.fillRect(px(x) - 3, py(y) - 3, 6, 6);
      g.fillText(s.name, ox + m.left + 8, oy + m.top + 14 + si * 14);
    });
  });
  return canvas.toBuffer('image/png');
}
