// How often a connection runs, and what happens to users who leave: deprovision mode, guard
// thresholds, protected accounts (GET/PUT …/schedule and …/policy).
import Button from '@atlaskit/button/new';
import { Label } from '@atlaskit/form';
import SectionMessage from '@atlaskit/section-message';
import Select from '@atlaskit/select';
import Textfield from '@atlaskit/textfield';
import { useEffect, useState } from 'react';
import { ApiError, get, put } from '../api.js';
import FieldMessages from '../components/FieldMessages.jsx';
import { SCHEDULES, when } from '../components/format.js';
import Problem from '../components/Problem.jsx';

const DEPROVISION = [
  { label: 'Remove from the synced groups', value: 'remove_from_groups' },
  { label: 'Remove product access', value: 'remove_product_access' },
  { label: 'Suspend access (needs the organization API key)', value: 'suspend' },
  { label: 'Do nothing', value: 'none' },
];
const UNMATCHED = [{ label: 'Invite them', value: 'invite' }, { label: 'Skip them', value: 'skip' }];

export function ScheduleForm({ connectionId, onSaved, saveLabel = 'Save schedule' }) {
  const [value, setValue] = useState(null);
  const [next, setNext] = useState(null);
  const [custom, setCustom] = useState('');
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    get(`/connections/${connectionId}/schedule`).then((a) => {
      const known = SCHEDULES.find((s) => s.value === (a.schedule || ''));
      setValue(known || { label: 'Custom (cron)', value: 'cron' });
      if (!known) setCustom(a.schedule);
      setNext(a.next_run_at);
    }, setError);
  }, [connectionId]);
  if (!value) return error ? <Problem error={error} /> : <p>Loading…</p>;
  const options = [...SCHEDULES, { label: 'Custom (cron)', value: 'cron' }];

  async function save(event) {
    event.preventDefault();
    const schedule = value.value === 'cron' ? custom : (value.value || null);
    try {
      const a = await put(`/connections/${connectionId}/schedule`, { schedule });
      setNext(a.next_run_at); setError(null); setSaved(true);
      onSaved?.(a);
    } catch (err) { setError(err); setSaved(false); }
  }
  const fields = error instanceof ApiError ? error.fields : {};
  return (
    <form onSubmit={save} className="stack" aria-label="Schedule" noValidate>
      <div style={{ maxWidth: 360 }}>
        <Label htmlFor="schedule">Run</Label>
        <Select inputId="schedule" options={options} value={value} onChange={(o) => { setValue(o); setSaved(false); }} />
        <FieldMessages fields={fields} path="schedule" />
      </div>
      {value.value === 'cron' && (
        <div style={{ maxWidth: 360 }}>
          <Label htmlFor="schedule-cron">Cron expression (five fields, UTC)</Label>
          <Textfield id="schedule-cron" value={custom} onChange={(e) => setCustom(e.target.value)} />
        </div>
      )}
      <p className="muted">Next run: {when(next)}</p>
      {error && !Object.keys(fields).length && <Problem error={error} />}
      {saved && <SectionMessage appearance="success"><p>Schedule saved.</p></SectionMessage>}
      <div className="row"><Button type="submit" appearance="primary">{saveLabel}</Button></div>
    </form>
  );
}

export function PolicyForm({ connectionId }) {
  const [policy, setPolicy] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => { get(`/connections/${connectionId}/policy`).then(setPolicy, setError); }, [connectionId]);
  if (!policy) return error ? <Problem error={error} /> : <p>Loading…</p>;
  const set = (p) => { setSaved(false); setPolicy({ ...policy, ...p }); };
  const setGuard = (p) => set({ guard: { ...policy.guard, ...p } });
  const fields = error instanceof ApiError ? error.fields : {};
  const num = (v) => (v === '' ? null : Number(v));

  async function save(event) {
    event.preventDefault();
    try { setPolicy(await put(`/connections/${connectionId}/policy`, policy)); setError(null); setSaved(true); } catch (err) { setError(err); }
  }
  return (
    <form onSubmit={save} className="stack" aria-label="Deprovisioning and guard" noValidate>
      <div>
        <Label htmlFor="deprovision">When a user leaves the IdP</Label>
        <Select inputId="deprovision" options={DEPROVISION} value={DEPROVISION.find((o) => o.value === policy.deprovision)}
          onChange={(o) => set({ deprovision: o.value })} />
        <FieldMessages fields={fields} path="deprovision" />
      </div>
      <div>
        <Label htmlFor="unmatched">IdP users without an Atlassian account</Label>
        <Select inputId="unmatched" options={UNMATCHED} value={UNMATCHED.find((o) => o.value === policy.on_unmatched)}
          onChange={(o) => set({ on_unmatched: o.value })} />
      </div>
      <h3>Guard: hold a plan for approval when</h3>
      <div className="row fields">
        <div style={{ flex: '1 1 200px' }}>
          <Label htmlFor="guard-percent">More than this % of members would be removed</Label>
          <Textfield id="guard-percent" type="number" value={policy.guard?.max_removal_percent ?? ''}
            onChange={(e) => setGuard({ max_removal_percent: num(e.target.value) })} />
          <FieldMessages fields={fields} path="guard.max_removal_percent" />
        </div>
        <div style={{ flex: '1 1 200px' }}>
          <Label htmlFor="guard-users">More than this many users would be affected</Label>
          <Textfield id="guard-users" type="number" value={policy.guard?.max_users_affected ?? ''}
            onChange={(e) => setGuard({ max_users_affected: num(e.target.value) })} />
          <FieldMessages fields={fields} path="guard.max_users_affected" />
        </div>
      </div>
      <div>
        <Label htmlFor="protected">Protected account IDs (never removed or suspended)</Label>
        <Textfield id="protected" value={(policy.protected_account_ids || []).join(', ')}
          onChange={(e) => set({ protected_account_ids: e.target.value.split(/[,\s]+/).filter(Boolean) })} />
        <FieldMessages fields={fields} path="protected_account_ids" />
      </div>
      {error && !Object.keys(fields).length && <Problem error={error} />}
      {saved && <SectionMessage appearance="success"><p>Policy saved.</p></SectionMessage>}
      <div className="row"><Button type="submit" appearance="primary">Save policy</Button></div>
    </form>
  );
}
