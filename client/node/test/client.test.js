'use strict';
// Tests of @durabled/client against a real durabled ($DURABLED_BINARY),
// through the installed package (run-tests.sh sets NODE_PATH to the scratch
// project's node_modules and DURABLE_NODE_CONSUMER to that project).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Readable } = require('node:stream');
const { test, before, after } = require('node:test');

const durable = require('@durabled/client');
const { Client, DurableError, codes } = durable;
const { TestDaemon, tempFiles } = require('./daemon');

const CONFIG = `
socket { path: "{base}/durabled.sock" mode: 0600 }
limits { stream_idle_timeout_ms: 1000 }
rule {
  name: "data"
  root: "{base}/data"
  allow_uid: {uid}
  create_mode: 0644
  max_mode: 0755
  allow_create_parents: true
  max_file_size: 2097152
}
rule { name: "once" root: "{base}/once" allow_uid: {uid} allow_overwrite: false }
rule { root: "{base}/data/denied" allow_uid: 65533 }
`;

let daemon;
let client;
let counter = 0;
// A fresh path under data/ for each use.
const fresh = (name = 'f') => daemon.path(`data/${name}-${++counter}`);
const read = (file) => fs.readFileSync(file, 'utf8');
const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

async function rejectsWith(promise, codeName, ...contains) {
  const error = await promise.then(
    (value) => assert.fail(`expected ${codeName}, got ${JSON.stringify(value)}`),
    (e) => e);
  assert.ok(error instanceof DurableError, `not a DurableError: ${error && error.stack}`);
  assert.ok(error instanceof Error);
  assert.equal(error.codeName, codeName, error.message);
  assert.equal(error.code, codes[codeName]);
  assert.equal(error.name, 'DurableError');
  for (const part of contains) assert.ok(error.message.includes(part), `${error.message} lacks ${part}`);
  return error;
}

// Waits until no temp file is left under data/ (the daemon cleans up a
// cancelled stream asynchronously).
async function assertNoTempFiles() {
  const until = Date.now() + 5000;
  let left = tempFiles(daemon.base);
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    left = tempFiles(daemon.base);
  }
  assert.deepEqual(left, []);
}

before(async () => {
  daemon = await TestDaemon.start(CONFIG, ['data', 'data/denied', 'once', 'outside']);
  client = new Client({ socket: daemon.socket, timeoutMs: 60000 });
});

after(async () => {
  if (client) client.close();
  if (daemon) await daemon.stop();
});

test('the package comes from the scratch project, with its own proto', () => {
  const consumer = process.env.DURABLE_NODE_CONSUMER;
  assert.ok(consumer, 'DURABLE_NODE_CONSUMER is not set: run through run-tests.sh');
  const where = require.resolve('@durabled/client');
  assert.ok(where.startsWith(path.join(consumer, 'node_modules', '@durabled', 'client') + path.sep), where);
  assert.ok(durable.PROTO_PATH.startsWith(path.dirname(where)));
  assert.ok(fs.existsSync(durable.PROTO_PATH));
});

test('defaults: socket from DURABLED_SOCKET, else /run/durabled/durabled.sock', () => {
  const saved = process.env.DURABLED_SOCKET;
  try {
    process.env.DURABLED_SOCKET = '/tmp/elsewhere.sock';
    const c = new Client();
    assert.equal(c.socket, '/tmp/elsewhere.sock');
    assert.equal(c.timeoutMs, 600000);
    c.close();
    delete process.env.DURABLED_SOCKET;
    assert.equal(durable.defaultSocketPath(), '/run/durabled/durabled.sock');
    assert.equal(durable.DEFAULT_SOCKET, '/run/durabled/durabled.sock');
  } finally {
    if (saved === undefined) delete process.env.DURABLED_SOCKET;
    else process.env.DURABLED_SOCKET = saved;
  }
});

test('write creates a file; stat describes it', async () => {
  const file = fresh();
  const result = await client.write(file, Buffer.from('hello'));
  assert.deepEqual(Object.keys(result).sort(), ['created', 'etag', 'sha256', 'size', 'superseded']);
  assert.equal(result.size, 5);
  assert.equal(result.created, true);
  assert.equal(result.superseded, false);
  assert.match(result.etag, /^[0-9a-f]{16}$/);
  assert.ok(Buffer.isBuffer(result.sha256));
  assert.deepEqual(result.sha256, sha256('hello'));
  assert.equal(read(file), 'hello');

  const info = await client.stat(file);
  assert.equal(info.size, 5);
  assert.equal(info.mode, 0o644);
  assert.equal(info.uid, process.getuid());
  assert.equal(info.gid, fs.statSync(file).gid);
  assert.equal(info.etag, result.etag);
  assert.equal(typeof info.mtimeNs, 'bigint');
  assert.equal(info.mtimeNs, fs.statSync(file, { bigint: true }).mtimeNs);
  assert.ok(Math.abs(info.mtimeMs - fs.statSync(file).mtimeMs) < 1);
});

test('strings (UTF-8), Uint8Arrays and empty content; the named form', async () => {
  const a = fresh();
  await client.write(a, 'grüße');
  assert.equal(read(a), 'grüße');
  const b = fresh();
  assert.equal((await client.write(b, new Uint8Array([104, 105]))).size, 2);
  assert.equal(read(b), 'hi');
  const c = fresh();
  assert.equal((await client.write(c, '')).size, 0);
  assert.equal(read(c), '');
  const name = `named-${++counter}.txt`;
  const named = await client.write(`data:${name}`, 'by name');
  assert.equal(named.created, true);
  assert.equal(read(daemon.path(`data/${name}`)), 'by name');
  assert.equal((await client.stat(`data:${name}`)).etag, named.etag);
});

test('replacing: created false, a new etag, the mode kept; mode option', async () => {
  const file = fresh();
  const first = await client.write(file, 'v1', { mode: 0o600 });
  assert.equal(fs.statSync(file).mode & 0o7777, 0o600);
  const second = await client.write(file, 'v2');
  assert.equal(second.created, false);
  assert.notEqual(second.etag, first.etag);
  assert.equal(fs.statSync(file).mode & 0o7777, 0o600);
  await client.write(file, 'v3', { mode: 0o640 });
  assert.equal((await client.stat(file)).mode, 0o640);
});

test('ifMatch: the current etag replaces, a stale one is ABORTED', async () => {
  const file = fresh();
  const v1 = await client.write(file, 'v1');
  const v2 = await client.write(file, 'v2', { ifMatch: v1.etag });
  assert.equal(read(file), 'v2');
  const error = await rejectsWith(client.write(file, 'v3', { ifMatch: v1.etag }), 'ABORTED');
  assert.equal(error.path, file);
  assert.equal(read(file), 'v2');
  await rejectsWith(client.write(fresh(), 'x', { ifMatch: v2.etag }), 'ABORTED');
});

test('ifAbsent: creates once, then ALREADY_EXISTS; both preconditions INVALID_ARGUMENT', async () => {
  const file = fresh();
  const first = await client.write(file, 'one', { ifAbsent: true });
  assert.equal(first.created, true);
  await rejectsWith(client.write(file, 'two', { ifAbsent: true }), 'ALREADY_EXISTS');
  assert.equal(read(file), 'one');
  await rejectsWith(client.write(file, 'two', { ifAbsent: true, ifMatch: first.etag }),
    'INVALID_ARGUMENT');
});

test('expectedSha256: hex or bytes; a mismatch is DATA_LOSS, 31 bytes INVALID_ARGUMENT', async () => {
  const file = fresh();
  await client.write(file, 'abc', { expectedSha256: sha256('abc').toString('hex') });
  await client.write(file, 'abd', { expectedSha256: sha256('abd') });
  await rejectsWith(client.write(file, 'abe', { expectedSha256: sha256('abc') }), 'DATA_LOSS');
  assert.equal(read(file), 'abd');
  await rejectsWith(client.write(file, 'x', { expectedSha256: Buffer.alloc(31) }), 'INVALID_ARGUMENT');
  await rejectsWith(client.write(file, Readable.from(['abf']),
    { expectedSha256: sha256('abc') }), 'DATA_LOSS');
  assert.equal(read(file), 'abd');
  await assert.rejects(client.write(file, 'x', { expectedSha256: 'zz' }), TypeError);
});

test('createParents: NOT_FOUND without it, directories made with it', async () => {
  const file = daemon.path(`data/p${++counter}/q/r.txt`);
  await rejectsWith(client.write(file, 'x'), 'NOT_FOUND');
  await client.write(file, 'x', { createParents: true });
  assert.equal(read(file), 'x');
});

test('error mapping: PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION', async () => {
  const outside = daemon.path('outside/a.txt');
  const denied = await rejectsWith(client.write(outside, 'x'), 'PERMISSION_DENIED', outside);
  assert.equal(denied.path, outside);
  assert.equal(denied.code, 7);
  await rejectsWith(client.write(daemon.path('data/denied/a.txt'), 'x'), 'PERMISSION_DENIED');
  await rejectsWith(client.write('other:a.txt', 'x'), 'PERMISSION_DENIED');
  await rejectsWith(client.write('relative.txt', 'x'), 'INVALID_ARGUMENT');
  await rejectsWith(client.write(`${daemon.base}/data/../outside/x`, 'x'), 'INVALID_ARGUMENT');
  await rejectsWith(client.write(fresh(), 'x', { mode: 0o17777 }), 'INVALID_ARGUMENT');
  await rejectsWith(client.stat(fresh()), 'NOT_FOUND');
  await rejectsWith(client.remove(fresh()), 'NOT_FOUND');
  fs.mkdirSync(daemon.path('data/a-dir'), { recursive: true });
  await rejectsWith(client.write(daemon.path('data/a-dir'), 'x'), 'FAILED_PRECONDITION');
  await rejectsWith(client.stat(daemon.path('data/a-dir')), 'FAILED_PRECONDITION');
  // create-only root: no overwrite, no remove
  const once = daemon.path(`once/o${++counter}`);
  await client.write(once, 'first');
  await rejectsWith(client.write(once, 'second'), 'PERMISSION_DENIED');
  await rejectsWith(client.remove(once), 'PERMISSION_DENIED');
  assert.equal(read(once), 'first');
});

test('client-side checks: lone surrogates, argument types, a closed client', async () => {
  const bad = daemon.path('data/\ud800.txt');
  const error = await rejectsWith(client.write(bad, 'x'), 'INVALID_ARGUMENT', 'not valid Unicode');
  assert.equal(error.path, bad);
  await rejectsWith(client.stat(bad), 'INVALID_ARGUMENT');
  await rejectsWith(client.write(fresh(), 'x', { ifMatch: '\udc00' }), 'INVALID_ARGUMENT');
  await assert.rejects(client.write(fresh(), 42), TypeError);
  await assert.rejects(client.write(fresh(), 'x', { mode: -1 }), TypeError);
  await assert.rejects(client.write(fresh(), 'abc', { size: 4 }), RangeError);
  await assert.rejects(client.stat(7), TypeError);
  const closed = new Client({ socket: daemon.socket });
  closed.close();
  closed.close();
  await rejectsWith(closed.stat(fresh()), 'FAILED_PRECONDITION', 'closed');
  await rejectsWith(closed.whoami(), 'FAILED_PRECONDITION');
});

test('an unreachable daemon is UNAVAILABLE, naming the socket', async () => {
  const socket = daemon.path('no-such.sock');
  const missing = new Client({ socket, timeoutMs: 5000 });
  try {
    await rejectsWith(missing.stat(fresh()), 'UNAVAILABLE', socket);
    await rejectsWith(missing.write(fresh(), Readable.from(['x'])), 'UNAVAILABLE', socket);
  } finally {
    missing.close();
  }
});

test('remove: the etag it removed; a stale ifMatch is ABORTED', async () => {
  const file = fresh();
  const v1 = await client.write(file, 'v1');
  const v2 = await client.write(file, 'v2');
  await rejectsWith(client.remove(file, { ifMatch: v1.etag }), 'ABORTED');
  assert.ok(fs.existsSync(file));
  assert.deepEqual(await client.remove(file, { ifMatch: v2.etag }), { etag: v2.etag });
  assert.ok(!fs.existsSync(file));
  const other = fresh();
  const written = await client.write(other, 'x');
  assert.equal((await client.remove(other)).etag, written.etag);
  assert.ok(!fs.existsSync(other));
});

test('streaming from a Readable, with and without size', async () => {
  const content = crypto.randomBytes(700000);
  const chunks = [];
  for (let i = 0; i < content.length; i += 65536) chunks.push(content.subarray(i, i + 65536));

  const a = fresh('stream');
  const unannounced = await client.write(a, Readable.from(chunks));
  assert.equal(unannounced.size, content.length);
  assert.equal(unannounced.created, true);
  assert.deepEqual(unannounced.sha256, sha256(content));
  assert.ok(fs.readFileSync(a).equals(content));

  const b = fresh('stream');
  const totals = new Set();
  const announced = await client.write(b, Readable.from(chunks), {
    size: content.length, onProgress: (sent, total) => totals.add(total),
  });
  assert.equal(announced.size, content.length);
  assert.deepEqual([...totals], [content.length]);
  assert.ok(fs.readFileSync(b).equals(content));

  // bigint size, an async generator of strings, a plain array of chunks
  const c = fresh('stream');
  await client.write(c, (async function* gen() { yield 'ab'; yield ''; yield 'cd'; })(),
    { size: 4n });
  assert.equal(read(c), 'abcd');
  const d = fresh('stream');
  await client.write(d, [Buffer.from('x'), new Uint8Array([121]), 'z']);
  assert.equal(read(d), 'xyz');
  const e = fresh('stream');
  const empty = await client.write(e, Readable.from([]));
  assert.equal(empty.size, 0);
  assert.equal(read(e), '');
});

test('a chunk larger than chunkSize is split; large buffers go as a stream', async () => {
  const small = new Client({ socket: daemon.socket, streamThreshold: 1000, chunkSize: 4096 });
  try {
    const content = crypto.randomBytes(100000);
    const sent = [];
    const file = fresh('big');
    const result = await small.write(file, content, { onProgress: (s, total) => sent.push([s, total]) });
    assert.equal(result.size, content.length);
    assert.ok(fs.readFileSync(file).equals(content));
    assert.equal(sent.length, Math.ceil(content.length / 4096));
    assert.deepEqual(sent.at(-1), [content.length, content.length]);
    const sent2 = [];
    await small.write(fresh('big'), Readable.from([content]), { onProgress: (s) => sent2.push(s) });
    assert.equal(sent2.length, Math.ceil(content.length / 4096));
    // below the threshold: one Write message, no progress
    const none = [];
    await small.write(fresh('big'), content.subarray(0, 1000), { onProgress: (s) => none.push(s) });
    assert.deepEqual(none, []);
  } finally {
    small.close();
  }
});

test('an fs.ReadStream of a whole file announces its size', async () => {
  const source = daemon.path(`outside/src-${++counter}`);
  fs.writeFileSync(source, crypto.randomBytes(300000));
  const totals = new Set();
  const file = fresh('copy');
  await client.write(file, fs.createReadStream(source), { onProgress: (s, t) => totals.add(t) });
  assert.deepEqual([...totals], [300000]);
  assert.ok(fs.readFileSync(file).equals(fs.readFileSync(source)));
  const partial = new Set();
  await client.write(fresh('copy'), fs.createReadStream(source, { start: 10 }),
    { onProgress: (s, t) => partial.add(t) });
  assert.deepEqual([...partial], [0]);
});

test('stream limits: a wrong announced size is INVALID_ARGUMENT, too big RESOURCE_EXHAUSTED', async () => {
  const file = fresh();
  await client.write(file, 'old');
  await rejectsWith(client.write(file, Readable.from(['short']), { size: 10 }), 'INVALID_ARGUMENT');
  await rejectsWith(client.write(file, Readable.from(['longer than ten']), { size: 10 }),
    'INVALID_ARGUMENT');
  await rejectsWith(client.write(file, Readable.from(['x']), { size: 3 * 1048576 }),
    'RESOURCE_EXHAUSTED');
  // unannounced: the daemon ends the stream once the content passes the limit
  const big = Buffer.alloc(1 << 20, 1);
  await rejectsWith(client.write(file, Readable.from([big, big, big, big])), 'RESOURCE_EXHAUSTED');
  assert.equal(read(file), 'old');
  await assertNoTempFiles();
});

test('a failing stream publishes nothing and rejects with its own error', async () => {
  const file = fresh();
  await client.write(file, 'old');
  const boom = new Error('the source broke');
  const source = new Readable({
    read() {
      if (!this.sent) { this.sent = true; this.push(Buffer.alloc(200000, 7)); } else this.destroy(boom);
    },
  });
  await assert.rejects(client.write(file, source, { size: 400000 }), (e) => e === boom);
  await assert.rejects(client.write(fresh(), (async function* gen() {
    yield 'partial'; throw boom;
  })()), (e) => e === boom);
  await assert.rejects(client.write(fresh(), ['ok', 17]), TypeError);
  assert.equal(read(file), 'old');
  await assertNoTempFiles();
});

test('aborting a stream (signal) is CANCELLED and publishes nothing', async () => {
  const file = fresh();
  await client.write(file, 'old');
  const controller = new AbortController();
  const source = (async function* gen() {
    yield 'some';
    controller.abort();
    await new Promise((r) => setTimeout(r, 200));
    yield 'more';
  })();
  await rejectsWith(client.write(file, source, { signal: controller.signal }), 'CANCELLED');
  assert.equal(read(file), 'old');
  await rejectsWith(client.stat(file, { signal: controller.signal }), 'CANCELLED');
  await assertNoTempFiles();
});

test('a stalled stream past timeoutMs is DEADLINE_EXCEEDED and publishes nothing', async () => {
  const quick = new Client({ socket: daemon.socket, timeoutMs: 300 });
  try {
    const file = fresh();
    await quick.write(file, 'old');
    const stalled = (async function* gen() {
      yield 'begun';
      await new Promise((r) => setTimeout(r, 800));
    })();
    await rejectsWith(quick.write(file, stalled), 'DEADLINE_EXCEEDED');
    assert.equal(read(file), 'old');
    await assertNoTempFiles();
  } finally {
    quick.close();
  }
});

test('whoami: our uid, pid and the roots we may use', async () => {
  const me = await client.whoami();
  assert.equal(me.uid, process.getuid());
  assert.equal(me.gid, process.getgid());
  assert.equal(me.pid, process.pid);
  assert.ok(Array.isArray(me.groups));
  assert.equal(typeof me.cgroup, 'string');
  assert.deepEqual(me.grants.map((g) => g.name).sort(), ['data', 'once']);
  const data = me.grants.find((g) => g.name === 'data');
  assert.equal(data.root, daemon.path('data'));
  assert.equal(data.maxFileSize, 2097152);
  assert.equal(data.createMode, 0o644);
  assert.equal(data.maxMode, 0o755);
  assert.equal(data.allowCreateParents, true);
  assert.equal(data.allowOverwrite, true);
  assert.equal(data.versionedLayout, false);
  assert.equal(me.grants.find((g) => g.name === 'once').allowOverwrite, false);
  assert.deepEqual(me.deniedRoots, [daemon.path('data/denied')]);
});

test('stats: counters as numbers, the last latency bound Infinity', async () => {
  const before = await client.stats();
  await client.write(fresh(), 'counted');
  await rejectsWith(client.write(daemon.path('outside/x'), 'x'), 'PERMISSION_DENIED');
  const s = await client.stats();
  assert.equal(s.writesOk, before.writesOk + 1);
  assert.equal(s.writesFailed, before.writesFailed + 1);
  assert.ok(s.bytesWritten >= before.bytesWritten + 7);
  assert.equal(s.errorsByCode.PERMISSION_DENIED, (before.errorsByCode.PERMISSION_DENIED || 0) + 1);
  assert.ok(s.removesOk >= 1);
  assert.ok(s.fileSyncs + s.filesystemSyncs > 0);
  assert.ok(s.directorySyncs > 0);
  assert.ok(s.commits > 0);
  assert.ok(s.connectionsAccepted >= 1);
  assert.equal(typeof s.uptimeSeconds, 'number');
  assert.equal(s.writesInProgress, 0);
  assert.ok(s.latency.length > 1);
  assert.equal(s.latency.at(-1).upperBoundUs, Infinity);
  const counted = s.latency.reduce((sum, bucket) => sum + bucket.count, 0);
  assert.ok(counted >= s.writesOk);
});

test('concurrent writes of one file through one client all succeed', async () => {
  const file = fresh();
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => client.write(file, `n${i}`)));
  assert.equal(results.length, 20);
  assert.match(read(file), /^n\d+$/);
  const current = (await client.stat(file)).etag;
  assert.ok(results.some((r) => r.etag === current), 'no answer carries the final etag');
});

test('writeSet: every member or none', async () => {
  const created = fresh('set');
  const replaced = fresh('set');
  const gone = fresh('set');
  fs.writeFileSync(replaced, 'old');
  fs.writeFileSync(gone, 'gone');
  const results = await client.writeSet([
    { path: created, data: Buffer.alloc(300000, 7) },
    { path: replaced, data: 'replaced' },
    { path: gone, remove: true },
  ]);
  assert.deepEqual(results.map((r) => r.path), [created, replaced, gone]);
  assert.equal(results[0].created, true);
  assert.equal(results[0].size, 300000);
  assert.equal(results[1].etag, (await client.stat(replaced)).etag);
  assert.equal(results[2].removed, true);
  assert.ok(fs.readFileSync(created).equals(Buffer.alloc(300000, 7)));
  assert.equal(fs.readFileSync(replaced, 'utf8'), 'replaced');
  assert.ok(!fs.existsSync(gone));
  // One stale ifMatch: nothing changes, and the error names the member.
  const error = await rejectsWith(client.writeSet([
    { path: created, data: 'again' },
    { path: replaced, data: 'x', ifMatch: results[0].etag },
  ]), 'ABORTED');
  assert.match(error.message, new RegExp(path.basename(replaced)));
  assert.equal(fs.readFileSync(replaced, 'utf8'), 'replaced');
  assert.ok(fs.readFileSync(created).equals(Buffer.alloc(300000, 7)));
  await rejectsWith(client.writeSet([]), 'INVALID_ARGUMENT');
  await assert.rejects(client.writeSet([{ path: created }]), TypeError);
  assert.deepEqual(tempFiles(path.dirname(created)), []);
});
