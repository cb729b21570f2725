// Lozenges for connection health and run status, with words, not only colours.
import Lozenge from '@atlaskit/lozenge';

const HEALTH = {
  ok: ['success', 'Healthy'], failing: ['removed', 'Failing'], held: ['moved', 'Held for approval'],
  never_run: ['default', 'Never run'], disabled: ['default', 'Disabled'], running: ['inprogress', 'Running'],
};

const RUN = {
  running: ['inprogress', 'Running'], queued: ['inprogress', 'Queued'], succeeded: ['success', 'Succeeded'],
  partially_failed: ['moved', 'Partly failed'], failed: ['removed', 'Failed'], held: ['moved', 'Held'],
  aborted: ['removed', 'Aborted'], preview: ['new', 'Preview'], discarded: ['default', 'Discarded'],
};

export function HealthLozenge({ health }) {
  const [appearance, text] = HEALTH[health] || ['default', health || 'Unknown'];
  return <Lozenge appearance={appearance}>{text}</Lozenge>;
}

export function RunLozenge({ status }) {
  const [appearance, text] = RUN[status] || ['default', status || 'Unknown'];
  return <Lozenge appearance={appearance}>{text}</Lozenge>;
}
