import { defineConfig } from 'vite';

// Everything bundled into hashed files under assets/ (served immutable by the brain); no inline
// script or style, so the brain's Content-Security-Policy can forbid them.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false }, sourcemap: false },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
});
