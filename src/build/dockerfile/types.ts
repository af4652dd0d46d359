/**
 * The parsed Dockerfile: the contract between the parser (parser.ts, instructions.ts) and the builder.
 *
 * Words are kept as written (quotes and `$VAR` included): the builder expands them at dispatch time with
 * the stage's ENV and ARGs (expand.ts), as Docker's builder does, because their values are only known then.
 */

/** Where an instruction came from, for errors ("Dockerfile:3") and the step lines. */
export interface Location {
  /** The Dockerfile's name as the user gave it (`Dockerfile`, `build/app.Dockerfile`, `-`). */
  file: string;
  /** 1-based, inclusive: a continued instruction spans several lines. */
  startLine: number;
  endLine: number;
}

/** A heredoc body (`<<EOF`, `<<-EOF`, `<<"EOF"`) attached to RUN, COPY or ADD. */
export interface Heredoc {
  /** The delimiter word, unquoted (`EOF`). */
  name: string;
  /** The body, with leading tabs removed for `<<-`. */
  content: string;
  /** False when the delimiter was quoted: no variable expansion in the body. */
  expand: boolean;
}

/** Parser directives from the top of the file (`# syntax=`, `# escape=`, `# check=`). */
export interface Directives {
  syntax?: string;
  /** `\` or `` ` ``. */
  escape: '\\' | '`';
  check?: string;
}

/** CMD, ENTRYPOINT, RUN, HEALTHCHECK CMD, SHELL's argument: JSON (exec) form or shell form. */
export type CommandLine =
  | { form: 'exec'; args: string[] }
  | { form: 'shell'; text: string; heredocs?: Heredoc[] };

interface Base {
  loc: Location;
  /** The instruction as written, continuations joined with the escapes removed: the step line's text. */
  original: string;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  /** The image word as written (may hold `$ARG` from ARGs before the first FROM), or `scratch`. */
  image: string;
  /** `AS name`, lower-cased as Docker does. */
  stageName?: string;
  /** `--platform=` as written. */
  platform?: string;
}

export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  target?: string;
  source?: string;
  from?: string;
  readonly: boolean;
  /** cache: id, sharing (shared|private|locked), mode, uid, gid; secret: id, required; tmpfs: size. */
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  required?: boolean;
  size?: number;
  env?: string;
}

export interface RunInstruction extends Base {
  kind: 'RUN';
  command: CommandLine;
  mounts: RunMount[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
}

export interface CopyInstruction extends Base {
  kind: 'COPY' | 'ADD';
  /** Source words as written (wildcards allowed). Empty when the sources are heredocs. */
  sources: string[];
  /** Inline files: `COPY <<EOF /dest`. */
  heredocs: Heredoc[];
  dest: string;
  /** `--from=` a stage name, stage index or image (COPY only). */
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
  parents: boolean;
  /** ADD only. */
  keepGitDir?: boolean;
  checksum?: string;
  unpack?: boolean;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface EnvInstruction extends Base {
  kind: 'ENV';
  pairs: KeyValue[];
}

export interface LabelInstruction extends Base {
  kind: 'LABEL';
  pairs: KeyValue[];
}

export interface ArgInstruction extends Base {
  kind: 'ARG';
  /** `ARG a b=1`: value undefined when no default is given. */
  args: Array<{ key: string; value?: string }>;
}

export interface WordInstruction extends Base {
  kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER';
  value: string;
}

export interface CommandInstruction extends Base {
  kind: 'CMD' | 'ENTRYPOINT';
  command: CommandLine;
}

export interface ListInstruction extends Base {
  kind: 'EXPOSE' | 'VOLUME';
  /** Words as written (VOLUME's JSON form gives its elements). */
  values: string[];
}

export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}

export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  /** `NONE`, or the test as the image config holds it: ["CMD", ...args] or ["CMD-SHELL", text]. */
  test: string[];
  /** Nanoseconds; undefined when the flag was not given. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** The trigger's text as the image config stores it (`RUN echo hi`). */
  expression: string;
  /** The trigger parsed, so a bad trigger fails where it is written. */
  trigger: Instruction;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | WordInstruction
  | CommandInstruction
  | ListInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

/** A stage: its FROM and the instructions after it, up to the next FROM. */
export interface Stage {
  /** 0-based position in the file. */
  index: number;
  from: FromInstruction;
  instructions: Instruction[];
}

/** A whole Dockerfile. */
export interface Dockerfile {
  directives: Directives;
  /** ARGs before the first FROM: usable only in FROM lines (and by a later `ARG name` redeclaring them). */
  metaArgs: ArgInstruction[];
  stages: Stage[];
  /** Non-fatal findings (`# check` rules, an empty continuation line), as Docker prints them. */
  warnings: Array<{ loc: Location; message: string }>;
}
