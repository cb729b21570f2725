// Small display helpers shared by the screens.

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const CHANGE_KINDS = {
  create_group: 'New group',
  link_group: 'Link group',
  link_user: 'Link user',
  invite_user: 'Invite',
  restore_access: 'Restore access',
  add_member: 'Add to group',
  remove_member: 'Remove from group',
  suspend_access: 'Deprovision (suspend)',
};

/** The preview's headline figures: what the issue calls adds, removals, new groups, invites, deprovisions. */
export const PLAN_HEADLINES = [
  ['add_member', 'Adds'], ['remove_member', 'Removals'], ['create_group', 'New groups'],
  ['invite_user', 'Invites'], ['suspend_access', 'Deprovisions'],
];

export const kindLabel = (kind) => CHANGE_KINDS[kind] || (kind || '').replaceAll('_', ' ');

export const SCHEDULES = [
  { label: 'Manual only', value: '' },
  { label: 'Every five minutes', value: 'five_minutes' },
  { label: 'Every hour', value: 'hour' },
  { label: 'Every day', value: 'day' },
  { label: 'Every week', value: 'week' },
];

export const RUNNING = new Set(['queued', 'running', 'started', 'approved']);
