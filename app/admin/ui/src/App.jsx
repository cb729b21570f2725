// The page shell: who is signed in, a breadcrumb back to the overview, and the current screen.
// Screens live in the URL's hash (#/connection/3), so the browser's back button works.
import Button from '@atlaskit/button/new';
import SectionMessage from '@atlaskit/section-message';
import { useEffect, useMemo, useState } from 'react';
import { get } from './api.js';
import Problem from './components/Problem.jsx';
import useAsync from './components/useAsync.js';
import ConnectionPage from './screens/ConnectionPage.jsx';
import Credential from './screens/Credential.jsx';
import Overview from './screens/Overview.jsx';
import RunPage from './screens/RunPage.jsx';
import Wizard from './screens/Wizard.jsx';

export function parseView(hash) {
  const [screen, id, tab] = hash.replace(/^#\/?/, '').split('/');
  if (screen === 'connection' && id) return { screen, id: Number(id), tab };
  if (screen === 'run' && id) return { screen, runId: Number(id) };
  if (screen === 'wizard' || screen === 'credential') return { screen };
  return { screen: 'overview' };
}

function hashOf(view) {
  if (view.screen === 'connection') return `#/connection/${view.id}${view.tab ? `/${view.tab}` : ''}`;
  if (view.screen === 'run') return `#/run/${view.runId}`;
  return `#/${view.screen}`;
}

const TITLES = { overview: 'Overview', wizard: 'Add a connection', credential: 'Write access',
  connection: 'Connection', run: 'Run' };

export default function App() {
  const [view, setView] = useState(() => parseView(window.location.hash));
  const me = useAsync(() => get('/me'));
  useEffect(() => {
    const onHash = () => setView(parseView(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const nav = useMemo(() => ({
    go(next) {
      const hash = hashOf(next);
      // Same hash (e.g. an approved run continuing as itself): re-render from the view object.
      if (hash === window.location.hash) setView({ ...next });
      else window.location.hash = hash;
    },
  }), []);
  useEffect(() => { document.title = `${TITLES[view.screen]} · User & Group Sync`; }, [view.screen]);

  let screen;
  if (view.screen === 'wizard') screen = <Wizard nav={nav} />;
  else if (view.screen === 'credential') screen = <Credential />;
  else if (view.screen === 'connection') screen = <ConnectionPage key={view.id} id={view.id} tab={view.tab} nav={nav} />;
  else if (view.screen === 'run') screen = <RunPage key={`${view.runId}-${view.seq || ''}`} runId={view.runId} jobId={view.jobId} nav={nav} />;
  else screen = <Overview nav={nav} />;

  if (me.error) {
    return (
      <main className="page">
        <h1>User &amp; Group Sync</h1>
        {me.error.status === 403
          ? <SectionMessage appearance="warning" title="Only site administrators can manage the sync"><p>{me.error.message}</p></SectionMessage>
          : <Problem error={me.error} title="The app could not be reached" />}
      </main>
    );
  }
  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        {view.screen !== 'overview' ? (
          <Button appearance="subtle" spacing="compact" onClick={() => nav.go({ screen: 'overview' })}>User &amp; Group Sync</Button>
        ) : <span>Apps · {me.data?.site_url || ''}</span>}
        <span style={{ flex: 1 }} />
        <Button appearance="subtle" spacing="compact" onClick={() => nav.go({ screen: 'credential' })}>Write access</Button>
      </nav>
      {screen}
    </main>
  );
}
