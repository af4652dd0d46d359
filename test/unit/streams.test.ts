import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { parseDetachKeys, detachKeysOf } from '../../src/containers/detach-keys.js';
import { HijackedSession, type ClientConnection, type StdinSink } from '../../src/api/streams/session.js';

describe('detach keys', () => {
  it('reads Docker’s notation', () => {
    assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [0x10, 0x11]);
    assert.deepEqual([...parseDetachKeys('ctrl-x,y')], [0x18, 0x79]);
    assert.deepEqual([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')], [0, 27, 28, 29, 30, 31]);
    assert.deepEqual([...parseDetachKeys('a,b')], [0x61, 0x62]);
    assert.throws(() => parseDetachKeys('ctrl-é'), /Unknown character: 'ctrl-é'/);
    assert.throws(() => parseDetachKeys('abc'), /Unknown character: 'abc'/);
  });

  it('defaults to ctrl-p ctrl-q; a bad spec is a 400 with Docker’s words', () => {
    assert.deepEqual([...detachKeysOf('')], [0x10, 0x11]);
    assert.deepEqual([...detachKeysOf(null)], [0x10, 0x11]);
    assert.throws(() => detachKeysOf('nope'), (e: Error & { kind?: string }) => e.kind === 'InvalidArgument' && e.message === 'Invalid detach keys (nope) provided');
    assert.throws(() => detachKeysOf('nope', 'escape'), /Invalid escape keys \(nope\) provided/);
  });
});

/** A fake client connection: what the session writes, and a way to type into it. */
class FakeConn extends EventEmitter implements ClientConnection {
  written: Buffer[] = [];
  ended = false;
  destroyed = false;
  writableLength = 0;
  write(data: Buffer): boolean {
    this.written.push(Buffer.from(data));
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {}
  resume(): void {}
}

class FakeSink implements StdinSink {
  got: Buffer[] = [];
  closed = false;
  write(data: Buffer): boolean {
    this.got.push(Buffer.from(data));
    return true;
  }
  onDrain(cb: () => void): void {
    setImmediate(cb);
  }
  closeStdin(): void {
    this.closed = true;
  }
  text(): string {
    return Buffer.concat(this.got).toString('latin1');
  }
}

describe('HijackedSession', () => {
  const keys = Buffer.from([0x10, 0x11]);

  it('detaches on the sequence, even split across reads, and passes a broken one through', async () => {
    const conn = new FakeConn();
    const sink = new FakeSink();
    const s = new HijackedSession(conn, { tty: true, stdout: true, stderr: true, stdin: sink, closeStdinOnEof: false, detachKeys: keys });
    conn.emit('data', Buffer.from('ab\x10c'));
    assert.equal(sink.text(), 'ab\x10c');
    conn.emit('data', Buffer.from('d\x10'));
    conn.emit('data', Buffer.from('\x10'));
    conn.emit('data', Buffer.from('\x11rest'));
    assert.equal(await s.done, 'detached');
    assert.equal(sink.text(), 'ab\x10cd\x10');
    assert.equal(conn.ended, true);
    assert.equal(sink.closed, false, 'a tty keeps its input open');
  });

  it('frames output per stream without a tty and drops streams not asked for', () => {
    const conn = new FakeConn();
    const s = new HijackedSession(conn, { tty: false, stdout: true, stderr: false, closeStdinOnEof: false, detachKeys: Buffer.alloc(0) });
    s.send('stdout', Buffer.from('out'));
    s.send('stderr', Buffer.from('err'));
    assert.deepEqual(conn.written, [Buffer.from([1, 0, 0, 0, 0, 0, 0, 3, 0x6f, 0x75, 0x74])]);
  });

  it('without a tty and with CloseStdin, the end of the input closes stdin and output goes on', async () => {
    const conn = new FakeConn();
    const sink = new FakeSink();
    const s = new HijackedSession(conn, { tty: false, stdout: true, stderr: true, stdin: sink, closeStdinOnEof: true, detachKeys: Buffer.alloc(0) });
    conn.emit('data', Buffer.from('\x10\x11 is data here'));
    conn.emit('end');
    assert.equal(sink.closed, true);
    s.send('stdout', Buffer.from('x'));
    assert.equal(conn.written.length, 1);
    s.finish();
    assert.equal(await s.done, 'ended');
    assert.equal(sink.text(), '\x10\x11 is data here');
  });

  it('without CloseStdin, the end of the input ends the session', async () => {
    const conn = new FakeConn();
    const sink = new FakeSink();
    const s = new HijackedSession(conn, { tty: true, stdout: true, stderr: true, stdin: sink, closeStdinOnEof: false, detachKeys: keys });
    conn.emit('end');
    assert.equal(await s.done, 'closed');
    assert.equal(sink.closed, false);
  });
});
