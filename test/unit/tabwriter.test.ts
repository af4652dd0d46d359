import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { displayWidth, tabwrite } from '../../src/cli/tabwriter.js';

describe('tabwrite with docker defaults (minwidth 10, padding 3)', () => {
  it('pads columns to max(minwidth, widest cell + 3) and leaves the last cell alone', () => {
    const out = tabwrite('NAME\tID\tSTATUS\nweb\tabc\tUp\nlonger-name-x\t1\tExited (0)\n');
    assert.equal(
      out,
      'NAME            ID        STATUS\n' + 'web             abc       Up\n' + 'longer-name-x   1         Exited (0)\n',
    );
  });

  it('keeps text without tabs as is', () => {
    assert.equal(tabwrite('hello\nworld\n'), 'hello\nworld\n');
    assert.equal(tabwrite(''), '');
  });

  it('does not pad a column made only of the trailing cells', () => {
    // Trailing text is not tab-terminated, so no line gets trailing blanks.
    assert.equal(tabwrite('a\tb\nccc\td\n'), 'a         b\nccc       d\n');
  });

  it('pads empty tab-terminated cells too', () => {
    assert.equal(tabwrite('a\t\tz\n'), 'a                   z\n');
  });
});

describe('tabwrite column blocks (Go text/tabwriter semantics)', () => {
  const opts = { minWidth: 0, tabWidth: 8, padding: 1 };

  it('ends a column block at a line with fewer cells', () => {
    // The example from Go's tabwriter docs: b and c are in different columns.
    const input = 'aaaa\tbbb\td\n' + 'aa\tb\tdd\n' + 'a\t\n' + 'aa\tcccc\teee\n';
    assert.equal(tabwrite(input, opts), 'aaaa bbb d\n' + 'aa   b   dd\n' + 'a    \n' + 'aa   cccc eee\n');
  });

  it('sizes columns again after a line without tabs', () => {
    assert.equal(tabwrite('a\tb\nheading\nlong-cell\tc\n', opts), 'a b\nheading\nlong-cell c\n');
  });

  it('handles a final line without newline like Flush does', () => {
    assert.equal(tabwrite('ab\tc\nd\te', opts), 'ab c\nd  e');
    // A trailing empty cell of the unterminated last line is dropped, so "x" is unpadded.
    assert.equal(tabwrite('abc\ty\nx\t', opts), 'abc y\nx');
  });

  it('treats a form feed as a line break that ends all columns', () => {
    assert.equal(tabwrite('a\tb\fcccc\td\n', opts), 'a b\ncccc d\n');
  });

  it('applies minWidth even when cells are narrower', () => {
    assert.equal(tabwrite('a\tb\n', { minWidth: 5, padding: 1 }), 'a    b\n');
  });

  it('pads with tabs rounded up to the tab width when padChar is a tab', () => {
    assert.equal(tabwrite('a\tb\nabcdefghi\tc\n', { minWidth: 0, tabWidth: 8, padding: 1, padChar: '\t' }), 'a\t\tb\nabcdefghi\tc\n');
  });

  it('uses a custom pad character', () => {
    assert.equal(tabwrite('a\tb\n', { minWidth: 4, padding: 0, padChar: '.' }), 'a...b\n');
  });

  it('rejects negative settings', () => {
    assert.throws(() => tabwrite('x', { padding: -1 }), RangeError);
  });
});

describe('displayWidth', () => {
  it('counts East Asian wide characters as two columns', () => {
    assert.equal(displayWidth('abc'), 3);
    assert.equal(displayWidth('日本'), 4);
    assert.equal(displayWidth('é'), 1);
    assert.equal(displayWidth('e\u0301'), 1); // combining accent
    assert.equal(displayWidth('🐳'), 2);
  });

  it('aligns wide text by display columns', () => {
    assert.equal(tabwrite('日本\tx\nab\ty\n', { minWidth: 0, padding: 1 }), '日本 x\nab   y\n');
  });
});
