/**
 * Execution of a parse tree against data, with Go's semantics and error messages.
 */
import { type AnyNode, type ArgNode, type BoolNode, type BranchNode, type ChainNode, type CommandNode, type FieldNode, type IdentifierNode, type ListNode, type Node, nodeString, type NumberNode, type PipeNode, type StringNode, type VariableNode } from './ast.js';
import { TemplateError } from './errors.js';
import { formatValue, goQuote } from './fmt.js';
import { type FuncSpec, type FuncTable, GO_PARAM_TYPES, type ParamType } from './functions.js';
import { isDict, isInt, isTrue, lookup, sortedKeys, toInterface, typeName } from './values.js';

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Marks "no value piped in", which differs from a piped-in missing value. */
const MISSING = Symbol('missing');
/** A pipeline's previous result, or MISSING. */
type Final = unknown;

type Signal = 'break' | 'continue' | null;

interface Variable {
  name: string;
  value: unknown;
}

export class Executor {
  private readonly vars: Variable[];
  private node: AnyNode | null = null;

  constructor(
    private readonly src: string,
    private readonly funcs: FuncTable,
    private readonly out: string[],
    data: unknown,
  ) {
    // Execute(nil) runs with an invalid dot.
    this.vars = [{ name: '$', value: data === null ? undefined : data }];
  }

  run(root: ListNode): void {
    this.walk(this.vars[0]!.value, root);
  }

  /** Remembers the node errors are reported at, like Go's state.at. */
  private at(node: AnyNode): void {
    this.node = node;
  }

  private errorf(msg: string): never {
    if (!this.node) throw new TemplateError(`template: : ${msg}`);
    const before = this.src.slice(0, this.node.pos);
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = Buffer.byteLength(before.slice(before.lastIndexOf('\n') + 1));
    throw new TemplateError(`template: :${line}:${col}: executing "" at <${nodeString(this.node)}>: ${msg}`);
  }

  private walk(dot: unknown, node: Node): Signal {
    this.at(node);
    switch (node.kind) {
      case 'text':
        this.out.push(node.text);
        return null;
      case 'action': {
        // Declarations print nothing; their variables live until the enclosing {{end}}.
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, v);
        return null;
      }
      case 'list':
        for (const n of node.nodes) {
          const signal = this.walk(dot, n);
          if (signal) return signal;
        }
        return null;
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'range':
        return this.walkRange(dot, node);
      case 'break':
      case 'continue':
        return node.kind;
    }
  }

  private walkIfOrWith(dot: unknown, node: BranchNode): Signal {
    const mark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (isTrue(val)) return this.walk(node.kind === 'with' ? val : dot, node.list);
      return node.elseList ? this.walk(dot, node.elseList) : null;
    } finally {
      this.vars.length = mark;
    }
  }

  private walkRange(dot: unknown, node: BranchNode): Signal {
    this.at(node);
    const outerMark = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe); // pushes the declared variables
      const entries = this.rangeEntries(val, node.pipe.decl.length);
      const mark = this.vars.length;
      for (const [key, elem] of entries) {
        this.bindRangeVars(node.pipe, key, elem);
        const signal = this.walk(elem, node.list);
        this.vars.length = mark;
        if (signal === 'break') break;
      }
      if (entries.length === 0 && node.elseList) return this.walk(dot, node.elseList);
      return null;
    } finally {
      this.vars.length = outerMark;
    }
  }

  /** [key, element] pairs: slices by index, maps in sorted key order, ints count up. */
  private rangeEntries(val: unknown, nvars: number): Array<[unknown, unknown]> {
    if (val === undefined || val === null) return []; // not an error: like a nil map
    if (Array.isArray(val)) return val.map((e, i): [unknown, unknown] => [i, e]);
    if (isDict(val)) return sortedKeys(val).map((k): [unknown, unknown] => [k, val[k]]);
    if (isInt(val)) {
      if (nvars > 1) this.errorf(`can't use ${formatValue(val)} to iterate over more than one variable`);
      return Array.from({ length: Math.max(0, Number(val)) }, (_, i): [unknown, unknown] => [i, i]);
    }
    this.errorf(`range can't iterate over ${formatValue(val)}`);
  }

  /** One variable gets the element; with two, the first gets the key. */
  private bindRangeVars(pipe: PipeNode, key: unknown, elem: unknown): void {
    const decl = pipe.decl;
    if (decl.length === 0) return;
    if (pipe.isAssign) {
      if (decl.length > 1) {
        this.setVar(decl[0]!.idents[0]!, key);
        this.setVar(decl[1]!.idents[0]!, elem);
      } else this.setVar(decl[0]!.idents[0]!, elem);
      return;
    }
    this.vars[this.vars.length - 1]!.value = elem;
    if (decl.length > 1) this.vars[this.vars.length - 2]!.value = key;
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.errorf(`undefined variable: ${name}`);
  }

  private printValue(node: Node, v: unknown): void {
    this.at(node);
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(node)} of type ${typeName(v)}`);
    // A nil interface{} is an invalid value by now (see evalPipeline).
    this.out.push(v === undefined || v === null ? '<no value>' : formatValue(v));
  }

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go digs into interface{} results, so a nil interface becomes an invalid value.
      if (value === null) value = undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.idents[0]!, value);
      else this.vars.push({ name: v.idents[0]!, value });
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args.slice(1), final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'number':
        return first.value;
      case 'string':
        return first.text;
    }
    this.errorf('nil is not a command');
  }

  private notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalFieldNode(dot: unknown, field: FieldNode, args: ArgNode[], final: Final): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.idents, args, final);
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: ArgNode[], final: Final): unknown {
    this.at(chain);
    if (chain.node.kind === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const receiver = this.evalArg(dot, 'value', chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.fields, args, final);
  }

  private evalVariableNode(dot: unknown, variable: VariableNode, args: ArgNode[], final: Final): unknown {
    this.at(variable);
    const value = this.varValue(variable.idents[0]!);
    if (variable.idents.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, variable, variable.idents.slice(1), args, final);
  }

  /** `args` is the whole command (args[0] being the field itself); only the last field gets them. */
  private evalFieldChain(dot: unknown, receiver: unknown, node: AnyNode, idents: string[], args: ArgNode[], final: Final): unknown {
    const n = idents.length;
    for (let i = 0; i < n - 1; i++) receiver = this.evalField(dot, idents[i]!, node, [], MISSING, receiver);
    return this.evalField(dot, idents[n - 1]!, node, args, final, receiver);
  }

  private evalField(dot: unknown, name: string, node: AnyNode, args: ArgNode[], final: Final, receiver: unknown): unknown {
    if (receiver === undefined) return undefined; // fields of an invalid value are invalid
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    if (!isDict(receiver)) this.errorf(`can't evaluate field ${name} in type ${typeName(receiver)}`);
    const value = lookup(receiver, name);
    if (typeof value === 'function') return this.callMethod(dot, name, value, receiver, node, args, final);
    if (args.length > 1 || final !== MISSING) this.errorf(`${name} is not a method but has arguments`);
    return value;
  }

  private callMethod(dot: unknown, name: string, fn: Function, receiver: unknown, node: AnyNode, args: ArgNode[], final: Final): unknown {
    const argv = args.slice(1).map((a) => this.evalArg(dot, 'any', a));
    if (final !== MISSING) argv.push(toInterface(final));
    try {
      return fn.apply(receiver, argv);
    } catch (e) {
      this.at(node);
      this.errorf(`error calling ${name}: ${errorMessage(e)}`);
    }
  }

  private evalFunction(dot: unknown, ident: IdentifierNode, node: AnyNode, args: ArgNode[], final: Final): unknown {
    this.at(ident);
    const spec = this.funcs.get(ident.name);
    if (!spec) this.errorf(`${goQuote(ident.name)} is not a defined function`);
    return this.evalCall(dot, spec, ident.name, node, args, final);
  }

  private evalCall(dot: unknown, spec: FuncSpec, name: string, node: AnyNode, args: ArgNode[], final: Final): unknown {
    this.checkArity(spec, name, args.length, final);
    if (spec.shortCircuit) return this.evalAndOr(dot, spec.shortCircuit, args, final);
    const paramType = (i: number): ParamType => spec.params[i] ?? spec.variadic ?? 'any';
    const argv = args.map((a, i) => this.evalArg(dot, paramType(i), a));
    if (final !== MISSING) argv.push(this.validate(final, paramType(args.length)));
    try {
      return spec.fn(...argv);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      this.at(node);
      this.errorf(`error calling ${name}: ${errorMessage(e)}`);
    }
  }

  private checkArity(spec: FuncSpec, name: string, nargs: number, final: Final): void {
    const numIn = nargs + (final !== MISSING ? 1 : 0);
    const fixed = spec.params.length;
    if (spec.variadic !== undefined) {
      if (numIn < fixed) this.errorf(`wrong number of args for ${name}: want at least ${fixed} got ${nargs}`);
    } else if (numIn !== fixed) {
      this.errorf(`wrong number of args for ${name}: want ${fixed} got ${numIn}`);
    }
  }

  /** and/or stop at the first false/true argument and return it (Go 1.18+). */
  private evalAndOr(dot: unknown, op: 'and' | 'or', args: ArgNode[], final: Final): unknown {
    let v: unknown;
    for (const a of args) {
      v = this.evalArg(dot, 'value', a);
      if (isTrue(v) === (op === 'or')) return v;
    }
    return final !== MISSING ? final : v;
  }

  private evalArg(dot: unknown, type: ParamType, n: ArgNode): unknown {
    this.at(n);
    switch (n.kind) {
      case 'dot':
        return this.validate(dot, type);
      case 'nil':
        if (type === 'value' || type === 'any') return null;
        this.errorf(`cannot assign nil to ${GO_PARAM_TYPES[type]}`);
      case 'field':
        return this.validate(this.evalFieldNode(dot, n, [n], MISSING), type);
      case 'variable':
        return this.validate(this.evalVariableNode(dot, n, [], MISSING), type);
      case 'pipe':
        return this.validate(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validate(this.evalFunction(dot, n, n, [], MISSING), type);
      case 'chain':
        return this.validate(this.evalChainNode(dot, n, [], MISSING), type);
    }
    return this.literalArg(n, type);
  }

  /** Constants are checked against the parameter type by syntax, as Go's evalString etc. */
  private literalArg(n: BoolNode | NumberNode | StringNode, type: ParamType): unknown {
    switch (type) {
      case 'value':
      case 'any':
        return n.kind === 'string' ? n.text : n.value;
      case 'string':
        if (n.kind === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
      case 'int':
        if (n.kind === 'number' && Number.isSafeInteger(n.value)) return n.value;
        this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'stringList':
        this.errorf(`can't handle ${nodeString(n)} for arg of type []string`);
    }
  }

  /** Go's validateType for a computed value passed to a typed parameter. */
  private validate(value: unknown, type: ParamType): unknown {
    switch (type) {
      case 'value':
        return value;
      case 'any':
        return toInterface(value);
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'int':
        if (isInt(value)) return Number(value);
        break;
      case 'stringList':
        // Lenient: Go's []string would refuse the []interface{} of decoded JSON.
        if (value === undefined) return [];
        if (Array.isArray(value)) return value.map((e) => (typeof e === 'string' ? e : formatValue(e)));
        break;
    }
    if (value === undefined) this.errorf(`invalid value; expected ${GO_PARAM_TYPES[type]}`);
    const got = value === null ? 'interface {}' : typeName(value);
    this.errorf(`wrong type for value; expected ${GO_PARAM_TYPES[type]}; got ${got}`);
  }
}
