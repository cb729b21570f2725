// One run: live progress while it runs, then its outcome; previews and held runs show the plan,
// applied runs their audit list.
import Button from '@atlaskit/button/new';
import ProgressBar from '@atlaskit/progress-bar';
import SectionMessage from '@atlaskit/section-message';
import { useEffect, useState } from 'react';
import { get, post } from '../api.js';
import { RUNNING, when } from '../components/format.js';
import Problem from '../components/Problem.jsx';
import { RunLozenge } from '../components/Status.jsx';
import { runOf } from '../jobs.js';
import ChangesList from './ChangesList.jsx';
import PlanView, { Headlines } from './PlanView.jsx';

function progressOf(run) {
  const done = run.progress?.done ?? run.ops_done ?? 0;
  const total = run.progress?.total ?? run.ops_total ?? 0;
  return { done, total, value: total > 0 ? Math.min(1, done / total) : 0 };
}

const JOB_OVER = new Set(['finished', 'failed', 'stopped', 'canceled']);

/** Polls a run while it runs; with `jobId` (an approval just queued) also while it is still
 *  held, until the worker has taken the job and finished it. */
export function useRun(runId, stepMs = 500, jobId = null) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!runId) return undefined;
    let live = true;
    let timer = null;
    let waiting = jobId;
    const tick = async () => {
      try {
        const r = await get(`/runs/${runId}`);
        if (!live) return;
        if (waiting && r.status === 'held') {
          const job = await get(`/jobs/${waiting}`);
          if (JOB_OVER.has(job.state)) waiting = null;
        } else if (waiting && !RUNNING.has(r.status)) waiting = null;
        setRun({ ...r, awaitingWorker: !!waiting && r.status === 'held' });
        if (RUNNING.has(r.status) || waiting) timer = setTimeout(tick, stepMs);
      } catch (err) { if (live) setError(err); }
    };
    setRun(null);
    tick();
    return () => { live = false; clearTimeout(timer); };
  }, [runId, stepMs, jobId]);
  return { run, error };
}

export function RunProgress({ run }) {
  const { done, total, value } = progressOf(run);
  const running = RUNNING.has(run.status);
  const label = running ? (total ? `${done} of ${total} changes made` : 'Reading the IdP and planning…')
    : `${done} of ${total} changes made`;
  return (
    <div className="stack" aria-live="polite">
      <ProgressBar ariaLabel="Sync progress" value={running ? value : 1} isIndeterminate={running && !total}
        appearance={running ? 'default' : 'success'} />
      <p className="muted" data-testid="progress-label">{label}</p>
    </div>
  );
}

export default function RunPage({ runId, jobId, nav }) {
  const { run, error } = useRun(runId, 500, jobId);
  const [actionError, setActionError] = useState(null);

  async function syncNow() {
    try {
      const accepted = await post(`/connections/${run.connection_id}/sync`);
      nav.go({ screen: 'run', runId: await runOf(accepted), connectionId: run.connection_id });
    } catch (err) { setActionError(err); }
  }
  async function decided(action, answer) {
    if (action === 'approve') {
      nav.go({ screen: 'run', runId: answer.run_id || run.id, jobId: answer.job_id, connectionId: run.connection_id, seq: Date.now() });
    } else nav.go({ screen: 'connection', id: run.connection_id, tab: 'history' });
  }

  if (!run) return error ? <Problem error={error} /> : <p>Loading the run…</p>;
  if (run.awaitingWorker) {
    return (
      <div className="stack">
        <div className="page-header"><h1>Run {run.id}</h1><RunLozenge status="queued" /></div>
        <p>Approved: waiting for a worker to apply the plan…</p>
        <RunProgress run={{ ...run, status: 'queued' }} />
      </div>
    );
  }
  const showsPlan = run.status === 'preview' || run.status === 'held';
  return (
    <div className="stack">
      <div className="page-header">
        <h1>Run {run.id} {run.dry_run ? '(preview)' : ''}</h1>
        <RunLozenge status={run.status} />
      </div>
      <p className="muted">Started {when(run.started_at)} ({run.trigger}){run.finished_at ? `, finished ${when(run.finished_at)}` : ''}
        {run.approved_by ? `, approved by ${run.approved_by}` : ''}.</p>
      {(RUNNING.has(run.status) || (!run.dry_run && !showsPlan)) && <RunProgress run={run} />}
      {run.error && <SectionMessage appearance="error" title="The run stopped"><p>{run.error}</p></SectionMessage>}
      {run.reason && !showsPlan && <SectionMessage appearance="information"><p>{run.reason}</p></SectionMessage>}
      {!RUNNING.has(run.status) && !showsPlan && <Headlines summary={run.summary} />}
      <Problem error={actionError} />
      {run.status === 'preview' && (
        <div className="row"><Button appearance="primary" onClick={syncNow}>Sync now</Button></div>
      )}
      {showsPlan && <PlanView runId={run.id} onDecided={decided} />}
      {!RUNNING.has(run.status) && !run.dry_run && !showsPlan && <ChangesList runId={run.id} />}
    </div>
  );
}
