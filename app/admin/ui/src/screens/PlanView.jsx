// A stored plan (preview or held run): headline counts, why it is held, every planned change,
// and approve / discard for held plans.
import Button from '@atlaskit/button/new';
import DynamicTable from '@atlaskit/dynamic-table';
import EmptyState from '@atlaskit/empty-state';
import { Label } from '@atlaskit/form';
import Modal, { ModalBody, ModalFooter, ModalHeader, ModalTitle, ModalTransition } from '@atlaskit/modal-dialog';
import SectionMessage from '@atlaskit/section-message';
import Select from '@atlaskit/select';
import { useEffect, useState } from 'react';
import { get, itemsOf, post } from '../api.js';
import { CHANGE_KINDS, PLAN_HEADLINES, kindLabel } from '../components/format.js';
import Problem from '../components/Problem.jsx';

const KIND_OPTIONS = [{ label: 'Every kind', value: '' },
  ...Object.entries(CHANGE_KINDS).map(([value, label]) => ({ label, value }))];

const HEAD = { cells: [{ key: 'kind', content: 'Change' }, { key: 'group', content: 'Group' },
  { key: 'who', content: 'User' }, { key: 'why', content: 'Why' }] };

function rowsOf(items) {
  return items.map((c) => ({ key: `p${c.index}`, cells: [
    { key: 'kind', content: kindLabel(c.kind) },
    { key: 'group', content: c.group_name || '—' },
    { key: 'who', content: c.email || c.display_name || c.account_id || c.idp_user_id || '—' },
    { key: 'why', content: c.reason || '' },
  ] }));
}

export function Headlines({ summary }) {
  return (
    <ul className="counts" aria-label="Planned changes">
      {PLAN_HEADLINES.map(([kind, label]) => (
        <li key={kind}><strong>{summary?.[kind] ?? 0}</strong>{label}</li>
      ))}
    </ul>
  );
}

export default function PlanView({ runId, onDecided }) {
  const [plan, setPlan] = useState(null);
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [kind, setKind] = useState(KIND_OPTIONS[0]);
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [busy, setBusy] = useState(false);

  async function load(more) {
    const q = new URLSearchParams({ limit: '50' });
    if (kind.value) q.set('kind', kind.value);
    if (more && cursor) q.set('cursor', cursor);
    try {
      const answer = await get(`/runs/${runId}/plan?${q}`);
      setPlan(answer);
      setItems((prev) => (more ? [...prev, ...itemsOf(answer)] : itemsOf(answer)));
      setCursor(answer.next_cursor || null);
    } catch (err) { setError(err); }
  }
  useEffect(() => { load(false); }, [runId, kind.value]); // eslint-disable-line react-hooks/exhaustive-deps

  async function decide(action) {
    setBusy(true);
    try {
      const answer = await post(`/runs/${runId}/${action}`);
      setConfirm(null);
      onDecided?.(action, answer);
    } catch (err) { setError(err); setConfirm(null); } finally { setBusy(false); }
  }

  if (!plan) return error ? <Problem error={error} /> : <p>Loading the plan…</p>;
  const total = Object.values(plan.summary || {}).reduce((a, b) => a + b, 0);
  return (
    <section className="stack" aria-labelledby="plan-title">
      <h2 id="plan-title">{plan.held ? 'Held plan' : 'Preview'}</h2>
      {plan.held && (
        <SectionMessage appearance="warning" title="This plan waits for your approval">
          <p>{plan.reason || 'The guard held it.'}</p>
        </SectionMessage>
      )}
      {(plan.notices || []).map((n) => (
        <SectionMessage key={n.code} appearance="information"><p>{n.message}</p></SectionMessage>
      ))}
      <Headlines summary={plan.summary} />
      {plan.held && (
        <div className="row">
          <Button appearance="primary" onClick={() => setConfirm('approve')}>Approve</Button>
          <Button onClick={() => setConfirm('discard')}>Discard</Button>
        </div>
      )}
      <Problem error={error} />
      {total === 0 ? (
        <EmptyState headingLevel={3} header="Nothing to change"
          description="Atlassian already matches the IdP for the groups this connection manages." />
      ) : (
        <>
          <div style={{ maxWidth: 260 }}>
            <Label htmlFor="plan-kind">Show</Label>
            <Select inputId="plan-kind" options={KIND_OPTIONS} value={kind} onChange={setKind} />
          </div>
          <DynamicTable label="Planned changes" head={HEAD} rows={rowsOf(items)}
            emptyView={<p>No planned change of this kind.</p>} />
          {cursor && <Button onClick={() => load(true)}>Show more</Button>}
        </>
      )}
      <ModalTransition>
        {confirm && (
          <Modal onClose={() => setConfirm(null)}>
            <ModalHeader><ModalTitle appearance={confirm === 'discard' ? 'danger' : undefined}>
              {confirm === 'approve' ? 'Apply this plan?' : 'Discard this plan?'}
            </ModalTitle></ModalHeader>
            <ModalBody>
              {confirm === 'approve'
                ? <p>Every change above is made in Atlassian now, including the removals the guard held.</p>
                : <p>Nothing is changed; the next scheduled run plans again from the IdP.</p>}
            </ModalBody>
            <ModalFooter>
              <Button appearance="subtle" onClick={() => setConfirm(null)}>Cancel</Button>
              <Button appearance={confirm === 'approve' ? 'primary' : 'danger'} isLoading={busy}
                onClick={() => decide(confirm)}>
                {confirm === 'approve' ? 'Apply' : 'Discard plan'}
              </Button>
            </ModalFooter>
          </Modal>
        )}
      </ModalTransition>
    </section>
  );
}
