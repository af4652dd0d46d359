/**
 * The parts of the control plane's transport (control/) the dispatcher uses, declared structurally, so
 * the real ControlServer/ControlClient fit here as they are (the unit test checks it) and unit tests can
 * pass in-process stand-ins.
 */

/** The caller, from its client certificate. */
export interface ControlPeer {
  nodeId: string;
  role: 'manager' | 'worker';
}

export interface ControlRequest {
  body: unknown;
  query: URLSearchParams;
  params: Record<string, string>;
  peer?: ControlPeer;
}

export interface ControlRouteOptions {
  public?: boolean;
  roles?: Array<ControlPeer['role']>;
}

/** What the dispatcher registers on a ControlServer. */
export interface DispatcherServer {
  handle(method: 'GET' | 'POST' | 'DELETE', path: string, h: (req: ControlRequest) => Promise<unknown>, o?: ControlRouteOptions): void;
  /** A stream of JSON lines; the handler returns when the stream is over (the signal aborts when the peer leaves). */
  stream(path: string, h: (req: ControlRequest, send: (msg: unknown) => void, signal: AbortSignal) => Promise<void>, o?: ControlRouteOptions): void;
}

/** What an agent's channel uses of a ControlClient (which already moves to the next manager on connect failure). */
export interface DispatcherClient {
  call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T>;
  stream(path: string, onMessage: (msg: unknown) => void, onEnd: (err?: Error) => void): { close(): void };
  /** The managers to try, first one first (the client moves on only when one cannot be reached). */
  setAddrs?(addrs: string[]): void;
}

export const SESSION_PATH = '/dispatcher/session';
export const STATUS_PATH = '/dispatcher/status';
export const HEARTBEAT_PATH = '/dispatcher/heartbeat';
