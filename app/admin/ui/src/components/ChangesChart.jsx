// Changes per run over time (applied and failed), drawn by uPlot; a hidden table says the same
// to screen readers.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const APPLIED = '#1f845a';
const FAILED = '#c9372c';

function seriesOf(history) {
  const runs = history.filter((h) => h.started_at);
  return [
    runs.map((h) => Date.parse(h.started_at) / 1000),
    runs.map((h) => h.applied ?? 0),
    runs.map((h) => h.failed ?? 0),
  ];
}

export default function ChangesChart({ history, title = 'Changes per run' }) {
  const box = useRef(null);
  const data = seriesOf(history || []);

  useEffect(() => {
    if (!box.current || data[0].length === 0) return undefined;
    const width = Math.max(280, box.current.clientWidth || 600);
    const bars = uPlot.paths.bars({ size: [0.6, 40], gap: 2 });
    const plot = new uPlot({
      width, height: 180, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{ stroke: '#44546f', grid: { show: false } },
        { stroke: '#44546f', size: 40, grid: { stroke: '#091e4224' } }],
      series: [{}, { label: 'Applied', fill: APPLIED, stroke: APPLIED, paths: bars, points: { show: false } },
        { label: 'Failed', fill: FAILED, stroke: FAILED, paths: bars, points: { show: false } }],
    }, data, box.current);
    return () => plot.destroy();
  }, [JSON.stringify(data)]); // eslint-disable-line react-hooks/exhaustive-deps

  if (data[0].length === 0) return <p className="muted">No runs yet: the chart fills in as syncs run.</p>;
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
          {(history || []).map((h) => (
            <tr key={h.run_id}><td>{h.started_at}</td><td>{h.applied}</td><td>{h.failed}</td></tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
