// Which IdP groups come over and as which site groups: mode, name transform, manual rules,
// filters and default groups (GET/PUT /connections/{id}/mapping).
import Button from '@atlaskit/button/new';
import { Checkbox } from '@atlaskit/checkbox';
import { Label } from '@atlaskit/form';
import Select from '@atlaskit/select';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import { useEffect, useState } from 'react';
import { ApiError, get, put } from '../api.js';
import FieldMessages from '../components/FieldMessages.jsx';
import GroupPicker, { usePickerNames } from '../components/GroupPicker.jsx';
import Problem from '../components/Problem.jsx';

const MODES = [
  { label: 'Bring every IdP group over under its own name', value: 'on_the_fly' },
  { label: 'Only the IdP groups I map to site groups', value: 'manual' },
];
const CASES = [
  { label: 'Keep as in the IdP', value: 'keep' }, { label: 'lower case', value: 'lower' },
  { label: 'UPPER CASE', value: 'upper' },
];
const lines = (text) => text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);

export default function MappingEditor({ connectionId, onSaved, saveLabel = 'Save mapping' }) {
  const [mapping, setMapping] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const idpGroups = usePickerNames(`/connections/${connectionId}/idp-groups`);
  const siteGroups = usePickerNames('/site-groups');

  useEffect(() => { get(`/connections/${connectionId}/mapping`).then(setMapping, setError); }, [connectionId]);
  if (!mapping) return error ? <Problem error={error} /> : <p>Loading the mapping…</p>;

  const fields = error instanceof ApiError ? error.fields : {};
  const set = (patch) => { setSaved(false); setMapping({ ...mapping, ...patch }); };
  const setFilters = (patch) => set({ filters: { ...mapping.filters, ...patch } });
  const rules = mapping.rules || [];
  const setRule = (i, patch) => set({ rules: rules.map((r, j) => (j === i ? { ...r, ...patch } : r)) });

  async function save(event) {
    event.preventDefault();
    setBusy(true);
    try {
      const answer = await put(`/connections/${connectionId}/mapping`, mapping);
      setMapping(answer || mapping);
      setError(null);
      setSaved(true);
      onSaved?.(answer);
    } catch (err) { setError(err); } finally { setBusy(false); }
  }

  return (
    <form onSubmit={save} className="stack" aria-label="Group mapping" noValidate>
      <div>
        <Label htmlFor="mapping-mode">Mode</Label>
        <Select inputId="mapping-mode" options={MODES} value={MODES.find((m) => m.value === mapping.mode)}
          onChange={(o) => set({ mode: o.value })} />
        <FieldMessages fields={fields} path="mode" />
      </div>
      <div className="row fields">
        <div style={{ flex: '1 1 200px' }}>
          <Label htmlFor="mapping-prefix">Prefix for group names</Label>
          <Textfield id="mapping-prefix" value={mapping.transform?.prefix || ''}
            onChange={(e) => set({ transform: { ...mapping.transform, prefix: e.target.value } })} />
          <FieldMessages fields={fields} path="transform.prefix" />
        </div>
        <div style={{ flex: '1 1 200px' }}>
          <Label htmlFor="mapping-case">Letter case</Label>
          <Select inputId="mapping-case" options={CASES}
            value={CASES.find((c) => c.value === (mapping.transform?.case || 'keep'))}
            onChange={(o) => set({ transform: { ...mapping.transform, case: o.value } })} />
        </div>
      </div>
      <Checkbox label="Flatten nested groups (members of child groups join the parent)"
        isChecked={mapping.flatten_nested !== false} onChange={(e) => set({ flatten_nested: e.target.checked })} />

      {mapping.mode === 'manual' && (
        <fieldset style={{ border: 0, padding: 0 }}>
          <legend><h3>Rules</h3></legend>
          {rules.length === 0 && <p className="muted">No rules yet: add one per IdP group you want to bring over.</p>}
          {rules.map((rule, i) => (
            <div className="rule" key={i}>
              <div>
                <Label htmlFor={`rule-${i}-idp`}>IdP group</Label>
                <GroupPicker inputId={`rule-${i}-idp`} label={`IdP group of rule ${i + 1}`} isMulti={false}
                  names={idpGroups} value={rule.idp_group} onChange={(v) => setRule(i, { idp_group: v })} />
                <FieldMessages fields={fields} path={`rules.${i}.idp_group`} />
              </div>
              <div>
                <Label htmlFor={`rule-${i}-groups`}>Site groups</Label>
                <GroupPicker inputId={`rule-${i}-groups`} label={`Site groups of rule ${i + 1}`}
                  names={siteGroups} value={rule.groups} onChange={(v) => setRule(i, { groups: v })} />
                <FieldMessages fields={fields} path={`rules.${i}.groups`} />
              </div>
              <Button appearance="subtle" onClick={() => set({ rules: rules.filter((_, j) => j !== i) })}>
                Remove rule {i + 1}
              </Button>
            </div>
          ))}
          <Button onClick={() => set({ rules: [...rules, { idp_group: '', groups: [] }] })}>Add rule</Button>
        </fieldset>
      )}

      <h3>Filters</h3>
      <div className="row fields">
        <div style={{ flex: '1 1 240px' }}>
          <Label htmlFor="filter-include">Only IdP groups matching</Label>
          <Textfield id="filter-include" placeholder="eng-*, re:^ops-.*$"
            value={(mapping.filters?.include || []).join(', ')}
            onChange={(e) => setFilters({ include: lines(e.target.value) })} />
          <FieldMessages fields={fields} path="filters.include" />
        </div>
        <div style={{ flex: '1 1 240px' }}>
          <Label htmlFor="filter-exclude">Except IdP groups matching</Label>
          <Textfield id="filter-exclude" value={(mapping.filters?.exclude || []).join(', ')}
            onChange={(e) => setFilters({ exclude: lines(e.target.value) })} />
          <FieldMessages fields={fields} path="filters.exclude" />
        </div>
      </div>
      <div>
        <Label htmlFor="filter-domains">Only e-mail domains (empty: all)</Label>
        <Textfield id="filter-domains" value={(mapping.filters?.email_domains || []).join(', ')}
          onChange={(e) => setFilters({ email_domains: lines(e.target.value) })} />
        <FieldMessages fields={fields} path="filters.email_domains" />
      </div>
      <Checkbox label="Only active users" isChecked={mapping.filters?.active_only !== false}
        onChange={(e) => setFilters({ active_only: e.target.checked })} />
      <Checkbox label="Only users who are in a synced group" isChecked={mapping.filters?.members_only !== false}
        onChange={(e) => setFilters({ members_only: e.target.checked })} />
      <div>
        <Label htmlFor="default-groups">Default groups (every synced user joins these)</Label>
        <GroupPicker inputId="default-groups" label="Default groups" names={siteGroups}
          value={mapping.default_groups} onChange={(v) => set({ default_groups: v })} />
        <FieldMessages fields={fields} path="default_groups" />
      </div>
      {error && !(error instanceof ApiError && error.code === 'validation') && <Problem error={error} />}
      {error instanceof ApiError && error.code === 'validation' && (
        <SectionMessage appearance="warning" title="Some fields need attention"><p>{error.message}</p></SectionMessage>
      )}
      {saved && <SectionMessage appearance="success" title="Mapping saved"><p>The next run uses it.</p></SectionMessage>}
      <div className="row"><Button type="submit" appearance="primary" isLoading={busy}>{saveLabel}</Button></div>
    </form>
  );
}
