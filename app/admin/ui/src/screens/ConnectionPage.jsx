// One connection: preview, sync now, enable/disable, delete; tabs for settings, groups,
// schedule and policy, the webhook (SCIM tokens for push connections) and history.
import Button from '@atlaskit/button/new';
import { Checkbox } from '@atlaskit/checkbox';
import Modal, { ModalBody, ModalFooter, ModalHeader, ModalTitle, ModalTransition } from '@atlaskit/modal-dialog';
import Tabs, { Tab, TabList, TabPanel } from '@atlaskit/tabs';
import { useState } from 'react';
import { del, get, itemsOf, post } from '../api.js';
import { when } from '../components/format.js';
import Problem from '../components/Problem.jsx';
import { RunLozenge } from '../components/Status.jsx';
import useAsync from '../components/useAsync.js';
import { runOf } from '../jobs.js';
import History from './History.jsx';
import MappingEditor from './MappingEditor.jsx';
import { PolicyForm, ScheduleForm } from './SchedulePolicy.jsx';
import ScimTokens from './ScimTokens.jsx';
import SettingsForm from './SettingsForm.jsx';
import Webhook from './Webhook.jsx';

function DeleteDialog({ connection, onClose, onDeleted }) {
  const [purge, setPurge] = useState(false);
  const [error, setError] = useState(null);
  async function remove() {
    try { await del(`/connections/${connection.id}?purge=${purge}`); onDeleted(); } catch (err) { setError(err); }
  }
  return (
    <Modal onClose={onClose}>
      <ModalHeader><ModalTitle appearance="danger">Delete {connection.name}?</ModalTitle></ModalHeader>
      <ModalBody>
        <p>The connection stops syncing. Users and groups already in Atlassian stay as they are.</p>
        <Checkbox label="Also delete its links, run history and recorded changes" isChecked={purge}
          onChange={(e) => setPurge(e.target.checked)} />
        <Problem error={error} />
      </ModalBody>
      <ModalFooter>
        <Button appearance="subtle" onClick={onClose}>Cancel</Button>
        <Button appearance="danger" onClick={remove}>Delete</Button>
      </ModalFooter>
    </Modal>
  );
}

const TABS = ['settings', 'groups', 'schedule', 'webhook', 'history'];

export default function ConnectionPage({ id, tab, nav }) {
  const conn = useAsync(() => get(`/connections/${id}`), [id]);
  const kinds = useAsync(() => get('/kinds'));
  const [error, setError] = useState(null);
  const [deleting, setDeleting] = useState(false);
  const c = conn.data;
  // a SCIM push connection is told of every change by the IdP already: tokens, no webhook
  const tabs = c?.kind === 'scim_push' ? [...TABS.slice(0, 3), 'scim', 'history'] : TABS;
  const [selected, setSelected] = useState(Math.max(0, tabs.indexOf(tab || 'settings')));

  if (conn.error) return <Problem error={conn.error} />;
  if (!c) return <p>Loading…</p>;
  const kind = itemsOf(kinds.data).find((k) => k.kind === c.kind);

  async function start(what) {
    try {
      const runId = await runOf(await post(`/connections/${id}/${what}`));
      nav.go({ screen: 'run', runId, connectionId: id });
    } catch (err) { setError(err); }
  }
  async function toggle() {
    try { await post(`/connections/${id}/${c.enabled ? 'disable' : 'enable'}`); conn.reload(); } catch (err) { setError(err); }
  }

  return (
    <div className="stack">
      <div className="page-header">
        <h1>{c.name}</h1>
        <div className="row">
          <Button onClick={() => start('preview')} isDisabled={!c.enabled}>Preview</Button>
          <Button appearance="primary" onClick={() => start('sync')} isDisabled={!c.enabled}>Sync now</Button>
          <Button onClick={toggle}>{c.enabled ? 'Disable' : 'Enable'}</Button>
          <Button appearance="subtle" onClick={() => setDeleting(true)}>Delete</Button>
        </div>
      </div>
      <p className="muted">{kind?.title || c.kind} · {c.enabled ? 'enabled' : 'disabled'} · last run {when(c.last_run_at)}
        {c.last_run && <> <RunLozenge status={c.last_run.status} /></>} · next run {c.enabled ? when(c.next_run_at) : '—'}</p>
      {!c.enabled && <p className="muted">Disabled: nothing runs, not even a preview, until it is enabled.</p>}
      <Problem error={error} />
      <Tabs id="connection-tabs" selected={selected} onChange={setSelected}>
        <TabList>
          {tabs.map((t) => <Tab key={t}>{{ settings: 'Settings', groups: 'Groups', schedule: 'Schedule & policy', scim: 'SCIM', webhook: 'Webhook', history: 'History' }[t]}</Tab>)}
        </TabList>
        {tabs.map((t) => (
          <TabPanel key={t}>
            <div style={{ width: '100%', paddingTop: 16 }}>
              {t === 'settings' && (kind ? <SettingsForm kind={kind} connection={c} submitText="Save settings" onSaved={conn.reload} /> : <p>Loading…</p>)}
              {t === 'groups' && <MappingEditor connectionId={id} />}
              {t === 'schedule' && <div className="stack"><ScheduleForm connectionId={id} /><h2>Deprovisioning and guard</h2><PolicyForm connectionId={id} /></div>}
              {t === 'scim' && <ScimTokens connectionId={id} />}
              {t === 'webhook' && <Webhook connectionId={id} />}
              {t === 'history' && <History connectionId={id} nav={nav} />}
            </div>
          </TabPanel>
        ))}
      </Tabs>
      <ModalTransition>
        {deleting && <DeleteDialog connection={c} onClose={() => setDeleting(false)} onDeleted={() => nav.go({ screen: 'overview' })} />}
      </ModalTransition>
    </div>
  );
}
