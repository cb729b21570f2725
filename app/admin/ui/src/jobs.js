// Queued work: a preview or sync answers with a job; the job names its run once a worker starts it.
import { get } from './api.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The run id behind an accepted job (202 answer), polling the job until a worker has made the run. */
export async function runOf(accepted, { timeoutMs = 120000, stepMs = 400 } = {}) {
  if (accepted?.run_id) return accepted.run_id;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const job = await get(`/jobs/${accepted.job_id}`);
    if (job.run_id) return job.run_id;
    if (job.state === 'failed' || job.state === 'canceled' || job.state === 'stopped') {
      throw new Error(`The job ${job.state} before it started a run.`);
    }
    await sleep(stepMs);
  }
  throw new Error('No worker picked up the job in time: is the worker running?');
}
