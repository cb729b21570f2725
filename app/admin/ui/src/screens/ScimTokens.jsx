// SCIM push connections: the base URL to give the IdP, bearer tokens created (shown once) and revoked.
import Button from '@atlaskit/button/new';
import DynamicTable from '@atlaskit/dynamic-table';
import SectionMessage from '@atlaskit/section-message';
import { useState } from 'react';
import { del, get, itemsOf, post } from '../api.js';
import { when } from '../components/format.js';
import Problem from '../components/Problem.jsx';
import useAsync from '../components/useAsync.js';

const HEAD = { cells: [{ key: 'hint', content: 'Token' }, { key: 'created', content: 'Created' },
  { key: 'used', content: 'Last used' }, { key: 'state', content: 'State' }] };

export default function ScimTokens({ connectionId }) {
  const list = useAsync(() => get(`/connections/${connectionId}/scim-tokens`), [connectionId]);
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  async function create() {
    try { setCreated(await post(`/connections/${connectionId}/scim-tokens`)); list.reload(); } catch (err) { setError(err); }
  }
  async function revoke(tokenId) {
    try { await del(`/connections/${connectionId}/scim-tokens/${tokenId}`); list.reload(); } catch (err) { setError(err); }
  }
  const rows = itemsOf(list.data).map((t) => ({ key: `t${t.id}`, cells: [
    { key: 'hint', content: `…${t.hint}` }, { key: 'created', content: when(t.created_at) },
    { key: 'used', content: when(t.last_used_at) },
    { key: 'state', content: t.revoked_at ? `revoked ${when(t.revoked_at)}`
      : <Button appearance="subtle" onClick={() => revoke(t.id)}>Revoke …{t.hint}</Button> },
  ] }));
  return (
    <div className="stack">
      <p>SCIM base URL for your IdP: <code>{list.data?.base_url}</code></p>
      {created && (
        <SectionMessage appearance="success" title="Copy this token now: it is not shown again">
          <p className="token-once">{created.token}</p>
        </SectionMessage>
      )}
      <Problem error={error || list.error} />
      <div className="row"><Button appearance="primary" onClick={create}>Create token</Button></div>
      <DynamicTable label="SCIM tokens" head={HEAD} rows={rows} isLoading={list.loading && !list.data}
        emptyView={<p>No tokens yet: create one and paste it into your IdP.</p>} />
    </div>
  );
}
