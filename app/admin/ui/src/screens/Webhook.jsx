// A connection's webhook: the URL and secret to give the IdP (copyable, the secret hidden until
// revealed), the IdP's set-up steps, the push subscriptions held at Entra or Google, and rotation.
import Button from '@atlaskit/button/new';
import DynamicTable from '@atlaskit/dynamic-table';
import Lozenge from '@atlaskit/lozenge';
import Modal, { ModalBody, ModalFooter, ModalHeader, ModalTitle, ModalTransition } from '@atlaskit/modal-dialog';
import SectionMessage from '@atlaskit/section-message';
import Textfield from '@atlaskit/textfield';
import { useState } from 'react';
import { get, post } from '../api.js';
import { copyText } from '../components/copy.js';
import { when } from '../components/format.js';
import Problem from '../components/Problem.jsx';
import useAsync from '../components/useAsync.js';

const MASK = '•'.repeat(24);
const RENEW_WHEN_LEFT_MS = 3 * 24 * 3600 * 1000; // workers/subscriptions.py RENEW_WHEN_LEFT
const RESOURCES = {
  users: 'Users (Graph)', groups: 'Groups (Graph)', add: 'Users added (users.watch)',
  delete: 'Users deleted (users.watch)', update: 'Users updated (users.watch)',
  undelete: 'Users restored (users.watch)', 'admin-activity': 'Group membership (Reports API admin activity)',
};
const HEAD = { cells: [{ key: 'resource', content: 'Watches' }, { key: 'state', content: 'State' },
  { key: 'expires', content: 'Expires' }, { key: 'renewed', content: 'Last made or renewed' }] };

/** The secret as shown: the whsec_ prefix, then dots until the admin reveals it. */
function masked(secret) {
  return secret.startsWith('whsec_') ? `whsec_${MASK}` : MASK;
}

function subscriptionState(expiresAt, now = Date.now()) {
  const left = new Date(expiresAt).getTime() - now;
  if (left <= 0) return <Lozenge appearance="removed">Expired</Lozenge>;
  if (left < RENEW_WHEN_LEFT_MS) return <Lozenge appearance="moved">Renews soon</Lozenge>;
  return <Lozenge appearance="success">Active</Lozenge>;
}

function CopyField({ id, label, value, shown, copyLabel }) {
  const [copied, setCopied] = useState(null);
  async function copy() { setCopied(await copyText(value) ? 'Copied' : 'Copy refused by the browser: select and copy by hand'); }
  return (
    <div className="field-list">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <div style={{ flex: '1 1 320px' }}>
          <Textfield id={id} value={shown ?? value} isReadOnly isCompact className="code"
            onFocus={(e) => e.target.select()} />
        </div>
        <Button onClick={copy}>{copyLabel}</Button>
        <span role="status" className="muted">{copied}</span>
      </div>
    </div>
  );
}

function RotateDialog({ hook, onClose, onRotated }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function rotate() {
    setBusy(true);
    try { onRotated(await post(`/connections/${hook.connection_id}/webhook/rotate`)); } catch (err) { setError(err); setBusy(false); }
  }
  return (
    <Modal onClose={onClose}>
      <ModalHeader><ModalTitle appearance="warning">Rotate the webhook URL and secret?</ModalTitle></ModalHeader>
      <ModalBody>
        <p>The old URL and secret stop working at once: every delivery the IdP sends with them is
          refused from now on. Enter the new URL and secret at the IdP straight after.</p>
        {hook.subscriptions && <p>The subscriptions held at the IdP are replaced with ones for the new
          URL by the subscription run this queues; until it has run, the IdP's notifications are refused too.</p>}
        <Problem error={error} />
      </ModalBody>
      <ModalFooter>
        <Button appearance="subtle" onClick={onClose}>Cancel</Button>
        <Button appearance="warning" onClick={rotate} isLoading={busy}>Rotate now</Button>
      </ModalFooter>
    </Modal>
  );
}

export default function Webhook({ connectionId }) {
  const answer = useAsync(() => get(`/connections/${connectionId}/webhook`), [connectionId]);
  const [rotated, setRotated] = useState(null);
  const [revealed, setRevealed] = useState(false);
  const [rotating, setRotating] = useState(false);
  const hook = rotated || answer.data;

  if (answer.error) return <Problem error={answer.error} title="The webhook could not be loaded" />;
  if (!hook) return <p>Loading…</p>;
  const hidden = masked(hook.secret);
  const showSecret = (text) => (revealed ? text : text.replaceAll(hook.secret, hidden));
  const rows = (hook.subscriptions || []).map((s) => ({ key: s.resource, cells: [
    { key: 'resource', content: RESOURCES[s.resource] || s.resource },
    { key: 'state', content: subscriptionState(s.expires_at) },
    { key: 'expires', content: when(s.expires_at) }, { key: 'renewed', content: when(s.renewed_at) },
  ] }));

  return (
    <div className="stack">
      <p>Your IdP sends its changes here, so they reach Atlassian within seconds instead of at the
        next scheduled run. Format: <code>{hook.format}</code>.</p>
      {rotated && (
        <SectionMessage appearance="success" title="New URL and secret">
          <p>The old ones no longer work: enter these at the IdP now.</p>
        </SectionMessage>
      )}
      <CopyField id="webhook-url" label="Webhook URL" value={hook.url} copyLabel="Copy URL" />
      <CopyField id="webhook-secret" label="Secret" value={hook.secret} shown={revealed ? hook.secret : hidden}
        copyLabel="Copy secret" />
      <div className="row">
        <Button onClick={() => setRevealed(!revealed)} aria-controls="webhook-secret">
          {revealed ? 'Hide secret' : 'Reveal secret'}</Button>
        <Button appearance="subtle" onClick={() => setRotating(true)}>Rotate URL and secret…</Button>
      </div>
      <p className="muted">Created {when(hook.created_at)}{hook.rotated_at && <> · last rotated {when(hook.rotated_at)}</>}</p>
      <h2>Set up at the IdP</h2>
      <ol className="setup-steps">
        {hook.setup.map((step, i) => <li key={i}>{showSecret(step)}</li>)}
      </ol>
      {hook.subscriptions && (
        <>
          <h2>Subscriptions at the IdP</h2>
          <DynamicTable label="Push subscriptions" head={HEAD} rows={rows}
            emptyView={<p>None yet: the first subscribe run creates them, then they are renewed before they expire.</p>} />
        </>
      )}
      <ModalTransition>
        {rotating && <RotateDialog hook={hook} onClose={() => setRotating(false)}
          onRotated={(next) => { setRotated(next); setRotating(false); }} />}
      </ModalTransition>
    </div>
  );
}
