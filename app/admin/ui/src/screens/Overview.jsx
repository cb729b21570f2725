// The landing screen: each connection's health, last and next run, counts, and the chart.
import Button from '@atlaskit/button/new';
import DynamicTable from '@atlaskit/dynamic-table';
import EmptyState from '@atlaskit/empty-state';
import SectionMessage from '@atlaskit/section-message';
import { get } from '../api.js';
import ChangesChart from '../components/ChangesChart.jsx';
import { when } from '../components/format.js';
import Problem from '../components/Problem.jsx';
import { HealthLozenge } from '../components/Status.jsx';
import useAsync from '../components/useAsync.js';

const HEAD = { cells: [{ key: 'name', content: 'Connection' }, { key: 'health', content: 'Health' },
  { key: 'last', content: 'Last run' }, { key: 'next', content: 'Next run' },
  { key: 'counts', content: 'Applied / failed' }] };

export default function Overview({ nav }) {
  const { data, error } = useAsync(() => get('/overview'));
  const add = <Button appearance="primary" onClick={() => nav.go({ screen: 'wizard' })}>Add connection</Button>;

  if (error) return <Problem error={error} title="The overview could not be loaded" />;
  const connections = data?.connections || [];
  const history = connections.flatMap((c) => c.history || [])
    .sort((a, b) => String(a.started_at).localeCompare(String(b.started_at)));
  const rows = connections.map((c) => ({ key: `c${c.id}`, cells: [
    { key: 'name', content: (
      <Button appearance="subtle" onClick={() => nav.go({ screen: 'connection', id: c.id })}>{c.name}</Button>) },
    { key: 'health', content: <HealthLozenge health={c.health} /> },
    { key: 'last', content: c.last_run ? (
      <Button appearance="subtle" onClick={() => nav.go({ screen: 'run', runId: c.last_run.id, connectionId: c.id })}>
        {when(c.last_run.started_at)}
      </Button>) : 'Never' },
    { key: 'next', content: c.enabled ? when(c.next_run_at) : 'Disabled' },
    { key: 'counts', content: `${c.counts?.applied ?? 0} / ${c.counts?.failed ?? 0}` },
  ] }));

  return (
    <div className="stack">
      <div className="page-header"><h1>User &amp; Group Sync</h1>{connections.length > 0 && add}</div>
      {data && !data.credential?.active && (
        <SectionMessage appearance="warning" title="No write credential yet">
          <p>Atlassian only lets the app change users and groups with a credential a site admin hands over.</p>
          <p><Button appearance="link" onClick={() => nav.go({ screen: 'credential' })}>Set up write access</Button></p>
        </SectionMessage>
      )}
      {data && connections.length === 0 ? (
        <EmptyState headingLevel={2} header="Connect your identity provider"
          description="Add a connection to bring your IdP's users and groups into this site. You can preview every change before anything is made."
          primaryAction={add} />
      ) : (
        <>
          <h2>Connections</h2>
          <DynamicTable label="Connections" head={HEAD} rows={rows} isLoading={!data} />
          <h2>Changes per run</h2>
          <ChangesChart history={history} />
        </>
      )}
    </div>
  );
}
