// Adding a connection step by step: pick the IdP → its settings → test → groups → schedule →
// preview → enable. The connection is saved (disabled) at step 2 and enabled only at the end.
import Button from '@atlaskit/button/new';
import { Label } from '@atlaskit/form';
import ProgressBar from '@atlaskit/progress-bar';
import SectionMessage from '@atlaskit/section-message';
import Select from '@atlaskit/select';
import { useEffect, useState } from 'react';
import { get, itemsOf, post, put } from '../api.js';
import { SCHEDULES } from '../components/format.js';
import Problem from '../components/Problem.jsx';
import useAsync from '../components/useAsync.js';
import { runOf } from '../jobs.js';
import MappingEditor from './MappingEditor.jsx';
import PlanView from './PlanView.jsx';
import { RunProgress, useRun } from './RunPage.jsx';
import { ScheduleForm } from './SchedulePolicy.jsx';
import SettingsForm from './SettingsForm.jsx';

const STEPS = ['Identity provider', 'Settings', 'Test', 'Groups', 'Schedule', 'Preview', 'Enable'];

function Steps({ at }) {
  return (
    <ol className="steps" aria-label="Steps">
      {STEPS.map((s, i) => (
        <li key={s} aria-current={i === at ? 'step' : undefined} className={i < at ? 'done' : undefined}>{s}</li>
      ))}
    </ol>
  );
}

function TestStep({ connection, onNext, onBack }) {
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const run = () => {
    setAnswer(null);
    post(`/connections/${connection.id}/test`).then(setAnswer, setError);
  };
  useEffect(run, [connection.id]); // eslint-disable-line react-hooks/exhaustive-deps
  if (error) return <Problem error={error} />;
  if (!answer) return <div className="stack" aria-live="polite"><ProgressBar ariaLabel="Testing the connection" isIndeterminate /><p>Asking the IdP…</p></div>;
  return (
    <div className="stack">
      <SectionMessage appearance={answer.ok ? 'success' : 'error'}
        title={answer.ok ? 'The IdP answered' : 'The IdP could not be read'}>
        <p>{answer.message}</p>
      </SectionMessage>
      <div className="row">
        <Button onClick={onBack}>Back to settings</Button>
        {!answer.ok && <Button onClick={run}>Test again</Button>}
        <Button appearance="primary" onClick={onNext} isDisabled={!answer.ok}>Continue</Button>
      </div>
    </div>
  );
}

async function startPreview(connectionId) {
  // The worker runs nothing, not even a preview, for a disabled connection. So the connection is
  // switched on with no schedule (nothing runs by itself) until the last step sets the schedule.
  await put(`/connections/${connectionId}/schedule`, { schedule: null });
  await post(`/connections/${connectionId}/enable`);
  return runOf(await post(`/connections/${connectionId}/preview`));
}

function PreviewStep({ connection, onNext }) {
  const [runId, setRunId] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { startPreview(connection.id).then(setRunId, setError); }, [connection.id]);
  const { run } = useRun(runId || 0, 400);
  if (error) return <Problem error={error} />;
  if (!runId || !run || run.status === 'running' || run.status === 'queued') {
    return <div className="stack"><p>Reading the IdP and planning the changes…</p>{run && <RunProgress run={run} />}</div>;
  }
  return (
    <div className="stack">
      {run.status === 'preview' || run.status === 'held'
        ? <PlanView runId={run.id} />
        : <SectionMessage appearance="error" title="The preview did not finish"><p>{run.error || run.reason || run.status}</p></SectionMessage>}
      <div className="row"><Button appearance="primary" onClick={onNext}>Continue</Button></div>
    </div>
  );
}

function EnableStep({ connection, schedule, nav }) {
  const [enabled, setEnabled] = useState(false);
  const [error, setError] = useState(null);
  async function enable(andSync) {
    try {
      await put(`/connections/${connection.id}/schedule`, { schedule });
      await post(`/connections/${connection.id}/enable`);
      setEnabled(true);
      if (andSync) {
        const runId = await runOf(await post(`/connections/${connection.id}/sync`));
        nav.go({ screen: 'run', runId, connectionId: connection.id });
      }
    } catch (err) { setError(err); }
  }
  async function leave() {
    try {
      await post(`/connections/${connection.id}/disable`);
      await put(`/connections/${connection.id}/schedule`, { schedule });
      nav.go({ screen: 'connection', id: connection.id });
    } catch (err) { setError(err); }
  }
  return (
    <div className="stack">
      <p>Enabled connections run on their schedule ({SCHEDULES.find((o) => o.value === (schedule || ''))?.label.toLowerCase() || schedule})
        and whenever the IdP signals a change.</p>
      <Problem error={error} />
      {enabled && <SectionMessage appearance="success"><p>{connection.name} is enabled.</p></SectionMessage>}
      <div className="row">
        <Button appearance="primary" onClick={() => enable(true)}>Enable and sync now</Button>
        <Button onClick={() => (enabled ? nav.go({ screen: 'overview' }) : enable(false).then(() => nav.go({ screen: 'overview' })))}>
          {enabled ? 'Go to overview' : 'Enable'}
        </Button>
        <Button appearance="subtle" onClick={leave}>Leave disabled</Button>
      </div>
    </div>
  );
}

export default function Wizard({ nav }) {
  const kinds = useAsync(() => get('/kinds'));
  const [at, setAt] = useState(0);
  const [kind, setKind] = useState(null);
  const [connection, setConnection] = useState(null);
  const [schedule, setSchedule] = useState(null);
  const options = itemsOf(kinds.data).map((k) => ({ label: k.title, value: k.kind, kind: k }));
  const next = () => setAt((n) => n + 1);

  let body = null;
  if (at === 0) {
    body = (
      <div className="stack">
        {kinds.error && <Problem error={kinds.error} />}
        <div style={{ maxWidth: 420 }}>
          <Label htmlFor="kind">Identity provider</Label>
          <Select inputId="kind" options={options} isLoading={kinds.loading} placeholder="Choose your IdP"
            value={options.find((o) => o.value === kind?.kind) || null} onChange={(o) => setKind(o.kind)} />
        </div>
        <div className="row">
          <Button onClick={() => nav.go({ screen: 'overview' })}>Cancel</Button>
          <Button appearance="primary" isDisabled={!kind} onClick={next}>Continue</Button>
        </div>
      </div>
    );
  } else if (at === 1) {
    body = <SettingsForm kind={kind} connection={connection} submitText="Save and test"
      onSaved={(c) => { setConnection(c); next(); }} />;
  } else if (at === 2) {
    body = <TestStep connection={connection} onNext={next} onBack={() => setAt(1)} />;
  } else if (at === 3) {
    body = <MappingEditor connectionId={connection.id} saveLabel="Save and continue" onSaved={next} />;
  } else if (at === 4) {
    body = <ScheduleForm connectionId={connection.id} saveLabel="Save and continue"
      onSaved={(a) => { setSchedule(a.schedule); next(); }} />;
  } else if (at === 5) {
    body = <PreviewStep connection={connection} onNext={next} />;
  } else {
    body = <EnableStep connection={connection} schedule={schedule} nav={nav} />;
  }
  return (
    <div>
      <div className="page-header"><h1>Add a connection{kind ? `: ${kind.title}` : ''}</h1></div>
      <Steps at={at} />
      {/* The preview step's plan carries its own heading. */}
      {at !== 5 && <h2>{STEPS[at]}</h2>}
      {body}
    </div>
  );
}
