// A connection's runs, newest first, keyset-paged; each opens its run page.
import Button from '@atlaskit/button/new';
import DynamicTable from '@atlaskit/dynamic-table';
import EmptyState from '@atlaskit/empty-state';
import { useEffect, useState } from 'react';
import { get, itemsOf } from '../api.js';
import { when } from '../components/format.js';
import Problem from '../components/Problem.jsx';
import { RunLozenge } from '../components/Status.jsx';

const HEAD = { cells: [{ key: 'run', content: 'Run' }, { key: 'started', content: 'Started' },
  { key: 'trigger', content: 'Trigger' }, { key: 'status', content: 'Status' },
  { key: 'ops', content: 'Changes' }] };

export default function History({ connectionId, nav }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);

  async function load(more) {
    const q = new URLSearchParams({ limit: '25' });
    if (more && cursor) q.set('cursor', cursor);
    try {
      const answer = await get(`/connections/${connectionId}/runs?${q}`);
      setItems((prev) => (more ? [...(prev || []), ...itemsOf(answer)] : itemsOf(answer)));
      setCursor(answer.next_cursor || null);
    } catch (err) { setError(err); }
  }
  useEffect(() => { load(false); }, [connectionId]); // eslint-disable-line react-hooks/exhaustive-deps

  if (error) return <Problem error={error} />;
  if (items && items.length === 0) {
    return <EmptyState headingLevel={3} header="No runs yet"
      description="Preview or sync this connection; every run and its changes are listed here." />;
  }
  const rows = (items || []).map((r) => ({ key: `r${r.id}`, cells: [
    { key: 'run', content: (
      <Button appearance="subtle" onClick={() => nav.go({ screen: 'run', runId: r.id, connectionId })}>
        {`Run ${r.id}${r.dry_run ? ' (preview)' : ''}`}
      </Button>) },
    { key: 'started', content: when(r.started_at) },
    { key: 'trigger', content: r.trigger },
    { key: 'status', content: <RunLozenge status={r.status} /> },
    { key: 'ops', content: `${r.ops_done ?? 0} / ${r.ops_total ?? 0}` },
  ] }));
  return (
    <div className="stack">
      <DynamicTable label="Run history" head={HEAD} rows={rows} isLoading={items === null} />
      {cursor && <Button onClick={() => load(true)}>Show more</Button>}
    </div>
  );
}
