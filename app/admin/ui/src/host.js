// Host adapter: one bundle runs in Jira's Connect iframe, in Forge Custom UI, or (development only)
// in a plain browser tab opened with a page token. Each host says how a request reaches the API.

/** Atlassian's Connect JavaScript API; it must come from their CDN, never be bundled. */
export const CONNECT_ALL_JS = 'https://connect-cdn.atl-paas.net/all.js';

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    script.dataset.options = 'sizeToParent:true';
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

function parseBody(text, contentType) {
  if (!text) return null;
  if ((contentType || '').includes('json')) {
    try { return JSON.parse(text); } catch { return text; }
  }
  return text;
}

/** A plain fetch to our own origin with a Connect-style context JWT. */
function fetchHost(name, getToken) {
  return {
    name,
    async request(method, path, body) {
      const headers = { Accept: 'application/json', Authorization: `JWT ${await getToken()}` };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: parseBody(text, res.headers.get('content-type')),
        contentType: res.headers.get('content-type') || '' };
    },
  };
}

function connectHost() {
  let ready = null;
  const ap = () => {
    ready = ready || (window.AP ? Promise.resolve() : loadScript(CONNECT_ALL_JS));
    return ready.then(() => window.AP);
  };
  // AP.context.getToken caches the token and renews it before it expires, so ask every time.
  return fetchHost('connect', () => ap().then((AP) => AP.context.getToken()));
}

function forgeHost() {
  let bridge = null;
  return {
    name: 'forge',
    async request(method, path, body) {
      // Loaded on demand so the Connect and development hosts never download the bridge.
      bridge = bridge || import('@forge/bridge');
      const { invokeRemote } = await bridge;
      const res = await invokeRemote({ path, method, body, headers: { Accept: 'application/json' } });
      const type = [].concat(res?.headers?.['content-type'] || []).join(',');
      const payload = typeof res?.body === 'string' ? parseBody(res.body, type) : res?.body;
      return { status: res?.status ?? 200, body: payload ?? null, contentType: type };
    },
  };
}

function devHost(token) {
  if (!token) {
    throw new Error('No page token: open this page through /dev/admin?client_key=… in development.');
  }
  return fetchHost('dev', () => Promise.resolve(token));
}

/** Picks the host: the page's <meta name="usersync-host"> (set by the server on /admin),
 *  else ?host=connect|forge|dev, else Forge (whose Custom UI iframe has neither). */
export function pickHost(location = window.location, doc = document) {
  const params = new URLSearchParams(location.search);
  const meta = doc.querySelector('meta[name="usersync-host"]')?.content;
  const name = meta || params.get('host') || (window.AP ? 'connect' : 'forge');
  if (name === 'connect') return connectHost();
  if (name === 'dev') return devHost(params.get('jwt'));
  return forgeHost();
}
