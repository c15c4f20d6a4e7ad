import { globalSetup } from 'cabinet-testkit';

// Vitest calls the returned function at the end of the run: it stops the server.
export default () => globalSetup({ project: 'vitest-app' });
