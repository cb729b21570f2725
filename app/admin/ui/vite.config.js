// Builds the admin page into dist/ with relative asset URLs, so the same files work under
// /admin/app/ (Connect iframe and development) and as a Forge Custom UI resource.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
});
