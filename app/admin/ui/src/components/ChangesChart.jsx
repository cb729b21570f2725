// Changes per run over time (applied and failed, side by side), drawn by uPlot with one slot per
// run in time order; a hidden table says the same to screen readers.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const APPLIED = '#1f845a';
const FAILED = '#c9372c';
const AXIS = '#44546f';

/** Axis labels: the time of day when every run is from one day, else the date. */
function labeller(runs) {
  const days = new Set(runs.map((r) => new Date(r.started_at).toDateString()));
  const format = days.size === 1 ? { hour: '2-digit', minute: '2-digit' } : { month: 'short', day: 'numeric' };
  return (iso) => new Date(iso).toLocaleString(undefined, format);
}

/** Applied runs only: previews and discarded plans change nothing. */
function runsOf(history) {
  return (history || []).filter((h) => h.started_at && h.status !== 'preview' && h.status !== 'discarded');
}

export default function ChangesChart({ history, title = 'Changes per run' }) {
  const box = useRef(null);
  const runs = runsOf(history);
  const key = JSON.stringify(runs);

  useEffect(() => {
    if (!box.current || runs.length === 0) return undefined;
    const width = Math.max(280, box.current.clientWidth || 600);
    const bar = (align) => uPlot.paths.bars({ size: [0.35, 28], align, gap: 1 });
    // A run without failures draws no red bar at all (null is a gap to uPlot), not a zero line.
    const data = [runs.map((_, i) => i), runs.map((h) => h.applied ?? 0), runs.map((h) => h.failed || null)];
    const label = labeller(runs);
    const every = Math.max(1, Math.ceil(runs.length / Math.max(1, Math.floor(width / 110))));
    const plot = new uPlot({
      width, height: 180, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false, range: () => [-0.6, runs.length - 0.4] },
        y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
      axes: [
        { stroke: AXIS, grid: { show: false }, ticks: { show: false },
          splits: () => runs.map((_, i) => i).filter((i) => i % every === 0),
          values: (u, splits) => splits.map((i) => (runs[i] ? label(runs[i].started_at) : '')) },
        { stroke: AXIS, size: 56, grid: { stroke: '#091e4224' } },  // room for "10,000"
      ],
      series: [{},
        { label: 'Applied', fill: APPLIED, stroke: APPLIED, paths: bar(-1), points: { show: false } },
        { label: 'Failed', fill: FAILED, stroke: FAILED, paths: bar(1), points: { show: false } }],
    }, data, box.current);
    return () => plot.destroy();
  }, [key]); // eslint-disable-line react-hooks/exhaustive-deps

  if (runs.length === 0) return <p className="muted">No syncs yet: the chart fills in as runs apply changes.</p>;
  return (
    <figure style={{ margin: 0 }}>
      <figcaption className="visually-hidden">{title}</figcaption>
      <div className="chart" ref={box} aria-hidden="true" />
      <ul className="legend" aria-hidden="true">
        <li><span style={{ background: APPLIED }} />Applied</li>
        <li><span style={{ background: FAILED }} />Failed</li>
      </ul>
      <table className="visually-hidden">
        <caption>{title}</caption>
        <thead><tr><th scope="col">Run started</th><th scope="col">Applied</th><th scope="col">Failed</th></tr></thead>
        <tbody>
          {runs.map((h) => (
            <tr key={h.run_id}><td>{h.started_at}</td><td>{h.applied}</td><td>{h.failed}</td></tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
