// Exports need the Authorization header, so they are fetched and handed to the browser as a file.
import { request } from '../api.js';

export async function download(path, filename, type) {
  const body = await request('GET', path);
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
