// Entry point: Atlassian's CSS reset and design tokens, the host adapter, then the page.
import '@atlaskit/css-reset';
import './styles.css';
import { setGlobalTheme } from '@atlaskit/tokens/set-global-theme';
import { createRoot } from 'react-dom/client';
import App from './App.jsx';
import { useHost } from './api.js';
import { pickHost } from './host.js';

const root = createRoot(document.getElementById('root'));
try {
  useHost(pickHost());
  setGlobalTheme({ colorMode: 'light' });
  root.render(<App />);
} catch (err) {
  root.render(<main className="page"><h1>User &amp; Group Sync</h1><p role="alert">{err.message}</p></main>);
}
