// A run's audit list: every change made, filtered by kind and outcome, keyset-paged, exportable.
import Button from '@atlaskit/button/new';
import DynamicTable from '@atlaskit/dynamic-table';
import EmptyState from '@atlaskit/empty-state';
import { Label } from '@atlaskit/form';
import Lozenge from '@atlaskit/lozenge';
import Select from '@atlaskit/select';
import { useEffect, useState } from 'react';
import { get, itemsOf } from '../api.js';
import { download } from '../components/download.js';
import { CHANGE_KINDS, kindLabel, when } from '../components/format.js';
import Problem from '../components/Problem.jsx';

const KINDS = [{ label: 'Every kind', value: '' },
  ...Object.entries(CHANGE_KINDS).map(([value, label]) => ({ label, value }))];
const OUTCOMES = [{ label: 'Every outcome', value: '' }, { label: 'Applied', value: 'applied' },
  { label: 'Failed', value: 'failed' }, { label: 'Skipped', value: 'skipped' }];
const OUTCOME_LOOK = { applied: 'success', failed: 'removed', skipped: 'default' };

const HEAD = { cells: [{ key: 'kind', content: 'Change' }, { key: 'group', content: 'Group' },
  { key: 'who', content: 'User' }, { key: 'outcome', content: 'Outcome' }, { key: 'at', content: 'At' }] };

function rowsOf(items) {
  return items.map((c) => ({ key: `c${c.id}`, cells: [
    { key: 'kind', content: kindLabel(c.kind) },
    { key: 'group', content: c.group_name || c.group_id || '—' },
    { key: 'who', content: c.email || c.account_id || c.idp_user_id || '—' },
    { key: 'outcome', content: (
      <span title={c.message || ''}><Lozenge appearance={OUTCOME_LOOK[c.outcome] || 'default'}>{c.outcome}</Lozenge>
        {c.message && <span className="visually-hidden">{c.message}</span>}</span>) },
    { key: 'at', content: when(c.at) },
  ] }));
}

export default function ChangesList({ runId }) {
  const [kind, setKind] = useState(KINDS[0]);
  const [outcome, setOutcome] = useState(OUTCOMES[0]);
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);

  const filters = () => {
    const q = new URLSearchParams();
    if (kind.value) q.set('kind', kind.value);
    if (outcome.value) q.set('outcome', outcome.value);
    return q;
  };
  async function load(more) {
    const q = filters();
    q.set('limit', '50');
    if (more && cursor) q.set('cursor', cursor);
    try {
      const answer = await get(`/runs/${runId}/changes?${q}`);
      setItems((prev) => (more ? [...(prev || []), ...itemsOf(answer)] : itemsOf(answer)));
      setCursor(answer.next_cursor || null);
      setError(null);
    } catch (err) { setError(err); }
  }
  useEffect(() => { load(false); }, [runId, kind.value, outcome.value]); // eslint-disable-line react-hooks/exhaustive-deps

  async function exportAs(ext, type) {
    const q = filters().toString();
    try { await download(`/runs/${runId}/changes.${ext}${q ? `?${q}` : ''}`, `run-${runId}-changes.${ext}`, type); } catch (err) { setError(err); }
  }

  return (
    <section className="stack" aria-labelledby="changes-title">
      <div className="page-header">
        <h2 id="changes-title">Changes</h2>
        <div className="row">
          <Button onClick={() => exportAs('csv', 'text/csv')}>Export CSV</Button>
          <Button onClick={() => exportAs('json', 'application/json')}>Export JSON</Button>
        </div>
      </div>
      <div className="row">
        <div style={{ minWidth: 220 }}>
          <Label htmlFor="changes-kind">Kind</Label>
          <Select inputId="changes-kind" options={KINDS} value={kind} onChange={setKind} />
        </div>
        <div style={{ minWidth: 200 }}>
          <Label htmlFor="changes-outcome">Outcome</Label>
          <Select inputId="changes-outcome" options={OUTCOMES} value={outcome} onChange={setOutcome} />
        </div>
      </div>
      <Problem error={error} />
      {items && items.length === 0 && !kind.value && !outcome.value ? (
        <EmptyState headingLevel={3} header="No changes in this run"
          description="The IdP and Atlassian already matched, or the run stopped before changing anything." />
      ) : (
        <DynamicTable label="Changes made by this run" head={HEAD} rows={rowsOf(items || [])}
          isLoading={items === null} emptyView={<p>No change matches these filters.</p>} />
      )}
      {cursor && <Button onClick={() => load(true)}>Show more</Button>}
    </section>
  );
}
