// The JSON admin API as the page sees it: one request function, errors as ApiError with the
// API's field-level messages kept by dotted path.

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `The server answered ${status}.`);
    this.status = status;
    this.code = error?.code || 'error';
    this.fields = error?.fields || {};
  }
}

let host = null;

export function useHost(h) { host = h; }

export function hostName() { return host?.name; }

export async function request(method, path, body) {
  let res;
  try {
    res = await host.request(method, `/api/admin${path}`, body);
  } catch (err) {
    throw new ApiError(0, { code: 'network', message: `Could not reach the app: ${err.message}` });
  }
  if (res.status >= 400) {
    const error = res.body && typeof res.body === 'object' ? res.body.error : null;
    throw new ApiError(res.status, error || { message: `The server answered ${res.status}.` });
  }
  return res.body;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});
export const put = (path, body) => request('PUT', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** The items of a list answer, whether it is a bare list or {items|<name>: [...]}. */
export function itemsOf(answer, name) {
  if (Array.isArray(answer)) return answer;
  if (!answer) return [];
  return answer.items || answer[name] || answer.data || [];
}

/** Turns {"settings.base_url": ["Not a valid URL."]} into {settings: {base_url: "Not a valid URL."}}. */
export function nestFieldErrors(fields) {
  const out = {};
  for (const [path, messages] of Object.entries(fields || {})) {
    const parts = path.split('.');
    let node = out;
    parts.slice(0, -1).forEach((p) => {
      node[p] = typeof node[p] === 'object' ? node[p] : {};
      node = node[p];
    });
    node[parts[parts.length - 1]] = [].concat(messages).join(' ');
  }
  return out;
}
