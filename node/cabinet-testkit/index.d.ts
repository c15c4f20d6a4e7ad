import type { CogniteClient } from '@cognite/sdk';

export interface FaultItem {
  route: string;
  method?: string;
  status?: number;
  times?: number;
  probability?: number;
  latencyMs?: number;
  fault?: 'reset' | 'truncate';
  retryAfter?: number;
  [key: string]: unknown;
}

export interface Faults {
  arm(items: FaultItem | FaultItem[], opts?: { seed?: number }): Promise<unknown>;
  list(): Promise<FaultItem[]>;
  reset(): Promise<unknown>;
  with<T>(items: FaultItem | FaultItem[], fn: () => Promise<T> | T, opts?: { seed?: number }): Promise<T>;
}

export interface StartOptions {
  project?: string;
  port?: number;
  keep?: boolean;
  config?: string;
  args?: string[];
  token?: string;
  tokenProvider?: () => Promise<string>;
  bin?: string;
}

export interface Cabinet {
  baseUrl: string;
  port: number;
  project: string;
  dataDir: string;
  logPath: string;
  client: CogniteClient;
  faults: Faults;
  stop(): Promise<number | null>;
}

export function startCabinet(options?: StartOptions): Promise<Cabinet>;
export function findCabinet(opts?: { build?: boolean; log?: (msg: string) => void }): string;
export function faultsFor(baseUrl: string, token?: string): Faults;
export function makeClient(o: {
  baseUrl: string;
  project: string;
  token?: string;
  tokenProvider?: () => Promise<string>;
}): Promise<CogniteClient>;
export function globalSetup(options?: StartOptions): Promise<() => Promise<void>>;
export function globalTeardown(): Promise<void>;
export function connectCabinet(): Promise<{
  baseUrl: string;
  project: string;
  client: CogniteClient;
  faults: Faults;
}>;
