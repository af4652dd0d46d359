import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { TemplateError, formatRows, formatValue, parseTemplate, renderTemplate } from '../../src/cli/template/index.js';

const image = {
  Id: 'sha256:abc',
  Architecture: 'amd64',
  Os: 'linux',
  Size: 4261000,
  RepoTags: ['alpine:3.19', 'alpine:latest'],
  Config: {
    Cmd: ['sh', '-c', 'echo hi'],
    Entrypoint: null,
    Labels: { 'a.b': 'dotted', maintainer: 'me' },
    Env: ['PATH=/bin'],
  },
  State: 'running',
};

function render(src: string, data: unknown = image): string {
  return renderTemplate(src, data);
}

/** Asserts a TemplateError with exactly this message. */
function assertError(src: string, message: string, data: unknown = image): void {
  assert.throws(
    () => render(src, data),
    (e: unknown) => {
      assert.ok(e instanceof TemplateError, `expected TemplateError, got ${String(e)}`);
      assert.equal(e.message, message);
      return true;
    },
  );
}

describe('fields and printing', () => {
  it('prints fields and nested fields', () => {
    assert.equal(render('{{.Architecture}} {{.Os}}'), 'amd64 linux');
    assert.equal(render('{{.Config.Labels.maintainer}}'), 'me');
    assert.equal(render('{{.}}', 'plain'), 'plain');
  });

  it('prints <no value> for missing keys, also below a missing key', () => {
    assert.equal(render('{{.Nope}}'), '<no value>');
    assert.equal(render('{{.Nope.Deeper}}'), '<no value>');
    assert.equal(render('{{.}}', null), '<no value>');
  });

  it('treats null like Go treats a nil interface{} value', () => {
    // Printing digs out the nil: <no value>; a field of it is a nil-pointer error.
    assert.equal(render('{{.Config.Entrypoint}}'), '<no value>');
    assertError(
      '{{.Config.Entrypoint.X}}',
      'template: :1:9: executing "" at <.Config.Entrypoint.X>: nil pointer evaluating interface {}.X',
    );
  });

  it('prints values the way Go %v does', () => {
    assert.equal(render('{{.RepoTags}}'), '[alpine:3.19 alpine:latest]');
    assert.equal(render('{{.Config.Labels}}'), 'map[a.b:dotted maintainer:me]');
    assert.equal(render('{{.Size}}'), '4261000');
    assert.equal(render('{{.F}} {{.T}}', { F: 0.25, T: true }), '0.25 true');
  });

  it('calls function-valued properties as methods', () => {
    const row = { Labels: 'a=1', Label: (name: string) => `label:${name}` };
    assert.equal(render('{{.Label "com.example"}}', row), 'label:com.example');
  });

  it('reports field errors with Go-style context', () => {
    assertError('{{.Os.Bits}}', 'template: :1:5: executing "" at <.Os.Bits>: can\'t evaluate field Bits in type string');
    assertError('x\n {{.Os 1}}', 'template: :2:3: executing "" at <.Os>: Os is not a method but has arguments');
  });
});

describe('formatValue', () => {
  it('formats like fmt %v', () => {
    assert.equal(formatValue('s'), 's');
    assert.equal(formatValue(1700000000), '1700000000');
    assert.equal(formatValue(1.5), '1.5');
    assert.equal(formatValue(true), 'true');
    assert.equal(formatValue(null), '<nil>');
    assert.equal(formatValue(['a', 1, null]), '[a 1 <nil>]');
    assert.equal(formatValue({ b: [1], a: { c: 'd' } }), 'map[a:map[c:d] b:[1]]');
    assert.equal(formatValue([]), '[]');
    assert.equal(formatValue({}), 'map[]');
    assert.equal(formatValue(NaN), 'NaN');
    assert.equal(formatValue(-Infinity), '-Inf');
  });
});

describe('text, trim markers and comments', () => {
  it('trims whitespace next to {{- and -}}', () => {
    assert.equal(render('a  \n {{- .Os -}} \n  b'), 'alinuxb');
    assert.equal(render('{{.Os}} {{- " x" }}'), 'linux x');
    assert.equal(render('{{- 3}} {{-3}}'), '3 -3');
  });

  it('drops comments', () => {
    assert.equal(render('a{{/* note */}}b'), 'ab');
    assert.equal(render('a {{- /* note */ -}} b'), 'ab');
  });

  it('allows newlines inside actions', () => {
    assert.equal(render('{{.Os\n | upper}}'), 'LINUX');
  });
});

describe('control structures', () => {
  it('if / else if / else', () => {
    const t = '{{if eq .State "running"}}up{{else if eq .State "paused"}}paused{{else}}down{{end}}';
    assert.equal(render(t), 'up');
    assert.equal(render(t, { State: 'paused' }), 'paused');
    assert.equal(render(t, { State: 'exited' }), 'down');
  });

  it('uses Go truthiness', () => {
    const t = '{{if .V}}T{{else}}F{{end}}';
    const values = [false, 0, '', [], {}, null, true, 1, 'x', [0], { a: 1 }];
    assert.deepEqual(
      values.map((V) => render(t, { V })),
      ['F', 'F', 'F', 'F', 'F', 'F', 'T', 'T', 'T', 'T', 'T'],
    );
    assert.equal(render(t, {}), 'F');
  });

  it('range over arrays, with index and element variables', () => {
    assert.equal(render('{{range .RepoTags}}{{.}} {{end}}'), 'alpine:3.19 alpine:latest ');
    assert.equal(render('{{range $i, $t := .RepoTags}}{{$i}}={{$t}};{{end}}'), '0=alpine:3.19;1=alpine:latest;');
    assert.equal(render('{{range $t := .RepoTags}}{{$t}},{{end}}'), 'alpine:3.19,alpine:latest,');
  });

  it('range over maps in sorted key order', () => {
    const data = { M: { zeta: 1, alpha: 2, Beta: 3 } };
    assert.equal(render('{{range $k, $v := .M}}{{$k}}={{$v}} {{end}}', data), 'Beta=3 alpha=2 zeta=1 ');
    assert.equal(render('{{range .M}}{{.}}{{end}}', data), '321');
  });

  it('range else, nil and integers', () => {
    assert.equal(render('{{range .E}}x{{else}}empty{{end}}', { E: [] }), 'empty');
    assert.equal(render('{{range .Missing}}x{{else}}none{{end}}'), 'none');
    assert.equal(render('{{range 3}}{{.}}{{end}}'), '012');
    assertError('{{range .Os}}{{end}}', 'template: :1:8: executing "" at <.Os>: range can\'t iterate over linux');
  });

  it('break and continue', () => {
    const t = '{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}';
    assert.equal(render(t, [1, 2, 3, 4, 5]), '13');
  });

  it('with / else with / else', () => {
    assert.equal(render('{{with .Config}}{{.Labels.maintainer}}{{end}}'), 'me');
    assert.equal(render('{{with .Nope}}a{{else with .Os}}{{.}}{{else}}c{{end}}'), 'linux');
    assert.equal(render('{{with .Nope}}a{{else}}b{{end}}'), 'b');
  });

  it('$ is the data inside range and with', () => {
    assert.equal(render('{{range .RepoTags}}{{$.Os}} {{end}}'), 'linux linux ');
  });
});

describe('variables', () => {
  it('declares and assigns', () => {
    assert.equal(render('{{$x := .Os}}{{$x}}'), 'linux');
    assert.equal(render('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}'), '2');
    assert.equal(render('{{with $c := .Config}}{{$c.Env}}{{end}}'), '[PATH=/bin]');
  });

  it('scopes variables to their control structure', () => {
    assertError('{{if true}}{{$x := 1}}{{end}}{{$x}}', 'template: :1: undefined variable "$x"');
  });
});

describe('pipelines and sub-expressions', () => {
  it('passes the result as the last argument', () => {
    assert.equal(render('{{.Os | printf "%q"}}'), '"linux"');
    assert.equal(render('{{.Os | upper | printf "%s!"}}'), 'LINUX!');
    assert.equal(render('{{"abc" | len}}'), '3');
  });

  it('evaluates parenthesized pipelines and fields of them', () => {
    assert.equal(render('{{printf "%s/%s" (upper .Os) .Architecture}}'), 'LINUX/amd64');
    assert.equal(render('{{(index .Items 1).Name}}', { Items: [{ Name: 'a' }, { Name: 'b' }] }), 'b');
  });
});

describe('literals', () => {
  it('strings with Go escapes and raw strings', () => {
    assert.equal(render('{{"a\\tb\\u00e9\\x41\\101"}}'), 'a\tbéAA');
    assert.equal(render('{{`a\\tb`}}'), 'a\\tb');
  });

  it('numbers, characters, booleans and nil', () => {
    assert.equal(render("{{1}} {{-2}} {{1.5}} {{0x1F}} {{0o17}} {{1_000}} {{'a'}} {{true}}"), '1 -2 1.5 31 15 1000 97 true');
    assert.equal(render('{{print nil}}'), '<nil>');
  });
});

describe('builtin functions', () => {
  it('and / or return an operand and short-circuit', () => {
    assert.equal(render('{{and 1 0 "x"}}|{{and 1 "x"}}|{{or 0 "" "y"}}|{{or 0 ""}}'), '0|x|y|');
    // The second operand would fail if it were evaluated.
    assert.equal(render('{{and .Nope .Os.Bits}}|{{or .Os .Os.Bits}}'), '<no value>|linux');
    assert.equal(render('{{not true}} {{not ""}}'), 'false true');
  });

  it('comparisons', () => {
    assert.equal(render('{{eq 1 1}} {{eq "a" "b" "c" "a"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}'), 'true true true true true true false');
    assert.equal(render('{{eq .Nope "x"}} {{eq .Nope nil}}'), 'false true');
    assertError('{{eq 1 "a"}}', 'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison');
    assertError('{{lt true false}}', 'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison');
  });

  it('len counts bytes, elements and keys', () => {
    assert.equal(render('{{len .RepoTags}} {{len .Config.Labels}} {{len "héllo"}}'), '2 2 6');
    assertError('{{len .Size}}', 'template: :1:2: executing "" at <len .Size>: error calling len: len of type int');
  });

  it('index into maps, arrays and nested values', () => {
    assert.equal(render('{{index .Config.Labels "a.b"}}'), 'dotted');
    assert.equal(render('{{index .RepoTags 1}}'), 'alpine:latest');
    assert.equal(render('{{index .M "a" 1}}', { M: { a: ['x', 'y'] } }), 'y');
    assert.equal(render('{{index .Config.Labels "missing"}}'), '<no value>');
    assertError('{{index .RepoTags 5}}', 'template: :1:2: executing "" at <index .RepoTags 5>: error calling index: index out of range: 5');
  });

  it('slice', () => {
    assert.equal(render('{{slice "hello" 1 3}} {{slice .RepoTags 1}} {{slice .RepoTags 0 0}}'), 'el [alpine:latest] []');
  });

  it('print, println and printf', () => {
    // Sprint only puts spaces between operands when neither is a string.
    assert.equal(render('{{print "a" 1 2 "b" true false}}'), 'a1 2btrue false');
    assert.equal(render('{{println "a" 1}}'), 'a 1\n');
    assert.equal(render('{{printf "%-5s|%5s|%.2s" "ab" "cd" "xyz"}}'), 'ab   |   cd|xy');
  });

  it('html and urlquery escape', () => {
    assert.equal(render(`{{html "<a href='x'>&"}}`), '&lt;a href=&#39;x&#39;&gt;&amp;');
    assert.equal(render('{{urlquery "a b&c"}}'), 'a+b%26c');
  });

  it('checks argument counts and types like Go', () => {
    assertError('{{len}}', 'template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0');
    assertError('{{upper .Size}}', 'template: :1:8: executing "" at <.Size>: wrong type for value; expected string; got int');
    assertError('{{pad "x" "1" 2}}', 'template: :1:10: executing "" at <"1">: expected integer; found "1"');
  });
});

describe('printf verbs', () => {
  const cases: Array<[string, string]> = [
    ['{{printf "%d|%5d|%-5d|%05d|%+d" 42 42 42 42 42}}', '42|   42|42   |00042|+42'],
    ['{{printf "%x %X %o %b %c %q %U" 255 255 8 5 65 65 9731}}', "ff FF 10 101 A 'A' U+2603"],
    ['{{printf "%s|%q|%v|%x" "hi" "a\\"b\\n" "v" "hi"}}', 'hi|"a\\"b\\n"|v|6869'],
    ['{{printf "%t %v" true false}}', 'true false'],
    ['{{printf "%f|%.2f|%8.3f|%-8.1f|%e|%.2e|%E" 3.14159 3.14159 3.14159 3.14159 123456.789 123456.789 0.00012}}', '3.141590|3.14|   3.142|3.1     |1.234568e+05|1.23e+05|1.200000E-04'],
    // Go rounds exact ties to even: 2.5 -> 2, 0.125 -> 0.12.
    ['{{printf "%.0f %.0f %.2f %.1f" 2.5 3.5 0.125 0.25}}', '2 4 0.12 0.2'],
    ['{{printf "%g %g %g %g %g %.3g %.2g" 1000000.0 123456.0 0.0001 0.00001 1.5 3.14159 100.0}}', '1e+06 123456 0.0001 1e-05 1.5 3.14 1e+02'],
    ['{{printf "%v %v %v" .L .M nil}}', '[a 1] map[k:v] <nil>'],
    ['{{printf "%s %d" .L .L}}', '[a %!s(int=1)] [%!d(string=a) 1]'],
    ['{{printf "%d %s" "x" 5}}', '%!d(string=x) %!s(int=5)'],
    ['{{printf "%d %d" 1}}', '1 %!d(MISSING)'],
    ['{{printf "%d" 1 2 "x"}}', '1%!(EXTRA int=2, string=x)'],
    ['{{printf "100%%"}}', '100%'],
    ['{{printf "%T %T %T %T" 1 "s" .L .M}}', 'int string []interface {} map[string]interface {}'],
    ['{{printf "%*d|%-*d|%.*f" 4 7 4 7 1 3.14159}}', '   7|7   |3.1'],
    ['{{printf "%6.2f|%06.2f|%+.1f" -3.14159 -3.14159 2.0}}', ' -3.14|-03.14|+2.0'],
  ];
  for (const [src, want] of cases) {
    it(src, () => assert.equal(render(src, { L: ['a', 1], M: { k: 'v' } }), want));
  }
});

describe('docker template functions', () => {
  it('json marshals like encoding/json without HTML escaping and with sorted keys', () => {
    assert.equal(render('{{json .Config.Cmd}}'), '["sh","-c","echo hi"]');
    assert.equal(render('{{json .}}', { b: 1, a: '<&>', c: null, d: [true, 1.5] }), '{"a":"<&>","b":1,"c":null,"d":[true,1.5]}');
    assert.equal(render('{{json .Nope}}'), 'null');
    assert.equal(render('{{json .}}', 'tab\there "q" \\ \u0001\u2028'), '"tab\\there \\"q\\" \\\\ \\u0001\\u2028"');
  });

  it('join, split', () => {
    assert.equal(render('{{join .Config.Cmd " "}}'), 'sh -c echo hi');
    assert.equal(render('{{split "a,b,c" ","}}'), '[a b c]');
    assert.equal(render('{{range split "x:y" ":"}}<{{.}}>{{end}}'), '<x><y>');
  });

  it('title, lower, upper', () => {
    assert.equal(render('{{title "hello wide-world"}} {{lower "MiXeD"}} {{upper .Os}}'), 'Hello Wide-World mixed LINUX');
  });

  it('pad and truncate', () => {
    assert.equal(render('[{{pad "x" 1 2}}][{{pad "" 1 2}}]'), '[ x  ][]');
    assert.equal(render('{{truncate "abcdef" 3}}|{{truncate "ab" 3}}'), 'abc|ab');
  });

  it('accepts extra functions', () => {
    const t = parseTemplate('{{shout .Os}}', { shout: (s: string) => s.toUpperCase() + '!' });
    assert.equal(t.execute(image), 'LINUX!');
    const failing = parseTemplate('{{boom}}', {
      boom: () => {
        throw new Error('kaput');
      },
    });
    assert.throws(() => failing.execute({}), { message: 'template: :1:2: executing "" at <boom>: error calling boom: kaput' });
  });
});

describe('parse errors', () => {
  const cases: Array<[string, string]> = [
    ['{{.Foo}', 'template: :1: unexpected "}" in operand'],
    ['{{.Foo', 'template: :1: unclosed action'],
    ['{{nofunc .X}}', 'template: :1: function "nofunc" not defined'],
    ['{{if .A}}x', 'template: :1: unexpected EOF'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{else}}', 'template: :1: unexpected {{else}}'],
    ['{{$x}}', 'template: :1: undefined variable "$x"'],
    ['{{}}', 'template: :1: missing value for command'],
    ['{{if}}{{end}}', 'template: :1: missing value for if'],
    ['a\n\n{{"abc}}', 'template: :3: unterminated quoted string'],
    ['{{/* x', 'template: :1: unclosed comment'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{.A | "x"}}', 'template: :1: non executable command in pipeline stage 2'],
    ['{{if\n.A', 'template: :2: unclosed action started at :1'],
    ['{{.A}}{{template "x"}}', 'template: :1: {{template}} is not supported'],
  ];
  for (const [src, message] of cases) {
    it(JSON.stringify(src), () => {
      assert.throws(() => parseTemplate(src), (e: unknown) => e instanceof TemplateError && e.message === message);
    });
  }
});

describe('formatRows', () => {
  const rows = [
    { ID: 'abc', Names: 'web', Status: 'Up 2 hours' },
    { ID: 'abcdef123456', Names: 'db', Status: 'Exited (0)' },
  ];
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES', Status: 'STATUS' };

  it('renders docker tables with a header row and aligned columns', () => {
    const out = formatRows('table {{.ID}}\\t{{.Names}}\\t{{.Status}}', rows, headers);
    assert.equal(
      out,
      'CONTAINER ID   NAMES     STATUS\n' + 'abc            web       Up 2 hours\n' + 'abcdef123456   db        Exited (0)\n',
    );
  });

  it('prints only the header for no rows', () => {
    assert.equal(formatRows('table {{.ID}}\\t{{.Names}}', [], headers), 'CONTAINER ID   NAMES\n');
  });

  it('keeps header titles intact through json/upper/... but still pads them', () => {
    const out = formatRows('table {{lower .Names}}\\t{{pad .ID 1 0}}', [rows[0]], headers);
    assert.equal(out, 'NAMES      CONTAINER ID\nweb        abc\n');
  });

  it('renders one line per row without "table"', () => {
    assert.equal(formatRows('{{.ID}}: {{.Names}}', rows, headers), 'abc: web\nabcdef123456: db\n');
    assert.equal(formatRows('{{.ID}}\\t{{.Names}}', rows.slice(0, 1), headers), 'abc\tweb\n');
    assert.equal(formatRows('{{.ID}}', [], headers), '');
  });

  it('renders "json" as one JSON object per row', () => {
    assert.equal(
      formatRows('json', rows, headers),
      '{"ID":"abc","Names":"web","Status":"Up 2 hours"}\n{"ID":"abcdef123456","Names":"db","Status":"Exited (0)"}\n',
    );
  });

  it('turns literal \\n into newlines and trims surrounding spaces', () => {
    assert.equal(formatRows('  {{.ID}}\\n{{.Names}}  ', rows.slice(0, 1), headers), 'abc\nweb\n');
  });

  it('throws TemplateError for bad formats', () => {
    assert.throws(() => formatRows('{{.ID}', rows, headers), TemplateError);
  });
});
