// ESM entry: the CommonJS implementation, with the clients made from @cognite/sdk's ESM build (the
// CogniteClient class an ESM test imports).
import { CogniteClient } from '@cognite/sdk';
import testkit from './index.cjs';

export const { findCabinet, faultsFor, globalTeardown } = testkit;

export function startCabinet(options = {}) {
  return testkit.startCabinet({ CogniteClient, ...options });
}

export function makeClient(o) {
  return testkit.makeClient({ CogniteClient, ...o });
}

export function connectCabinet(o = {}) {
  return testkit.connectCabinet({ CogniteClient, ...o });
}

export function globalSetup(options = {}) {
  return testkit.globalSetup({ CogniteClient, ...options });
}

export default { startCabinet, makeClient, connectCabinet, globalSetup, findCabinet, faultsFor, globalTeardown };
