/**
 * The instructions that only change the image config (ENV, LABEL, USER, CMD, ...), as Docker's classic
 * builder dispatches them: the new config and the history text of the step (`#(nop) ENV a=b`).
 * WORKDIR's directory and ARG's scoping are handled by the caller; this only says what they record.
 */
import path from 'node:path';
import type { ImageRunConfig } from '../images/changes.js';
import type { CommandLine, Instruction } from './dockerfile/types.js';
import { invalidArgument } from '../lib/errors.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Word expansion with the stage's current ENV and ARGs (expand.ts's ShellLex behind it). */
export interface Expander {
  word(word: string): string;
  words(word: string): string[];
}

export interface MetadataResult {
  /** The comment after `#(nop) ` in the history. */
  comment: string;
  /** MAINTAINER sets the image's author. */
  author?: string;
}

/** Applies a config-only instruction to `cfg` in place. `cmdSet` tells whether this stage set CMD yet. */
export function applyMetadata(ins: Instruction, cfg: ImageRunConfig, x: Expander, stage: { cmdSet: boolean }): MetadataResult {
  switch (ins.kind) {
    case 'ENV': {
      // Every pair expands against the env before the line, as in Docker (`ENV A=1 C=$A` gives C=).
      const pairs = ins.pairs.map((p) => [x.word(p.key), x.word(p.value)] as const);
      const parts: string[] = [];
      for (const [key, value] of pairs) {
        cfg.Env = setEnv(cfg.Env ?? [], key, value);
        parts.push(`${key}=${value}`);
      }
      return { comment: `ENV ${parts.join(' ')}` };
    }
    case 'LABEL': {
      const parts: string[] = [];
      cfg.Labels = { ...(cfg.Labels ?? {}) };
      for (const p of ins.pairs) {
        const key = x.word(p.key);
        const value = x.word(p.value);
        if (!key) throw invalidArgument('LABEL names can not be blank');
        cfg.Labels[key] = value;
        parts.push(`${key}=${value}`);
      }
      return { comment: `LABEL ${parts.join(' ')}` };
    }
    case 'MAINTAINER': {
      const v = x.word(ins.value);
      return { comment: `MAINTAINER ${v}`, author: v };
    }
    case 'WORKDIR': {
      const wd = x.word(ins.value);
      cfg.WorkingDir = path.posix.isAbsolute(wd) ? path.posix.normalize(wd) : path.posix.join('/', cfg.WorkingDir || '/', wd);
      if (cfg.WorkingDir.length > 1) cfg.WorkingDir = cfg.WorkingDir.replace(/\/+$/, '');
      return { comment: `WORKDIR ${cfg.WorkingDir}` };
    }
    case 'USER': {
      cfg.User = x.word(ins.value);
      return { comment: `USER ${cfg.User}` };
    }
    case 'STOPSIGNAL': {
      const sig = x.word(ins.value);
      if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/i.test(sig)) throw invalidArgument(`Invalid signal: ${sig}`);
      cfg.StopSignal = sig;
      return { comment: `STOPSIGNAL ${sig}` };
    }
    case 'CMD': {
      cfg.Cmd = commandArgs(ins.command, cfg);
      if (ins.command.form === 'shell' ? ins.command.text !== '' : ins.command.args.length) stage.cmdSet = true;
      return { comment: `CMD ${goQuoteList(cfg.Cmd)}` };
    }
    case 'ENTRYPOINT': {
      const args = commandArgs(ins.command, cfg);
      cfg.Entrypoint = args;
      // An ENTRYPOINT resets a CMD inherited from the base image, not one set in this stage.
      if (!stage.cmdSet) cfg.Cmd = null;
      return { comment: `ENTRYPOINT ${goQuoteList(args)}` };
    }
    case 'EXPOSE': {
      const ports = ins.values.flatMap((v) => x.words(v));
      cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
      for (const p of ports) for (const spec of portSpecs(p)) cfg.ExposedPorts[spec] = {};
      return { comment: `EXPOSE ${ports.join(' ')}` };
    }
    case 'VOLUME': {
      const vols = ins.values.map((v) => x.word(v));
      cfg.Volumes = { ...(cfg.Volumes ?? {}) };
      for (const v of vols) {
        if (!v.trim()) throw invalidArgument('VOLUME specified can not be an empty string');
        cfg.Volumes[v] = {};
      }
      return { comment: `VOLUME [${vols.join(' ')}]` };
    }
    case 'SHELL': {
      cfg.Shell = [...ins.shell];
      return { comment: `SHELL [${ins.shell.join(' ')}]` };
    }
    case 'HEALTHCHECK': {
      if (ins.test[0] === 'NONE') cfg.Healthcheck = { Test: ['NONE'] };
      else {
        cfg.Healthcheck = {
          Test: ins.test,
          ...(ins.interval ? { Interval: ins.interval } : {}),
          ...(ins.timeout ? { Timeout: ins.timeout } : {}),
          ...(ins.startPeriod ? { StartPeriod: ins.startPeriod } : {}),
          ...(ins.startInterval ? { StartInterval: ins.startInterval } : {}),
          ...(ins.retries ? { Retries: ins.retries } : {}),
        };
      }
      // Go's %q of the HealthConfig as dockerd 20.10 has it (Test, Interval, Timeout, StartPeriod, Retries).
      const h = ins.test[0] === 'NONE' ? undefined : ins;
      const fields = h
        ? [goDuration(h.interval ?? 0), goDuration(h.timeout ?? 0), goDuration(h.startPeriod ?? 0)].map((d) => `"${d}"`).join(' ') + ` ${goQuoteRune(h.retries ?? 0)}`
        : `"0s" "0s" "0s" '\\x00'`;
      return { comment: `HEALTHCHECK &{${goQuoteList(ins.test)} ${fields}}` };
    }
    case 'ONBUILD': {
      cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.expression];
      return { comment: `ONBUILD ${ins.expression}` };
    }
    default:
      throw new Error(`not a metadata instruction: ${ins.kind}`);
  }
}

/** CMD/ENTRYPOINT/RUN arguments: exec form as written, shell form prefixed with the stage's SHELL. */
export function commandArgs(cmd: CommandLine, cfg: ImageRunConfig): string[] {
  if (cmd.form === 'exec') return [...cmd.args];
  return [...(cfg.Shell?.length ? cfg.Shell : DEFAULT_SHELL), cmd.text];
}

export function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.split('=')[0] !== key);
  const i = env.findIndex((e) => e.split('=')[0] === key);
  const entry = `${key}=${value}`;
  if (i < 0) return [...out, entry];
  const copy = [...env];
  copy[i] = entry;
  return copy.filter((e, j) => j === i || e.split('=')[0] !== key);
}

/** nat.ParsePortSpecs for EXPOSE: `80`, `80/udp`, `8000-8002/tcp`. */
function portSpecs(raw: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(raw);
  if (!m) throw invalidArgument(`Invalid containerPort: ${raw}`);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : start;
  if (end < start || end > 65535) throw invalidArgument(`Invalid containerPort: ${raw}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** Go's %q of a []string: `["a" "b"]`. */
export function goQuoteList(list: string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

function goQuoteRune(n: number): string {
  if (n >= 32 && n < 127) return `'${n === 39 ? "\\'" : n === 92 ? '\\\\' : String.fromCharCode(n)}'`;
  return `'\\x${n.toString(16).padStart(2, '0')}'`;
}

/** Go's time.Duration.String() for nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${trim(s)}s`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
