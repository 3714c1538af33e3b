#!/usr/bin/env node
'use strict';
// Conformance runner of the Node client (tests/conformance/README.md).
//
// Runs every case of $DURABLE_CONFORMANCE_CASES against the daemon at
// $DURABLED_SOCKET, whose roots are $DURABLE_CONFORMANCE_BASE/roots/NAME:
//
//   bash tests/conformance/with-daemon.sh build/server/durabled -- \
//       node client/node/test/conformance-runner.js [--cases FILE] [CASE...]
//
// write, write_stream, stat, remove, whoami and stats go through the public
// API of @durabled/client; raw_stream sends its messages through a raw
// grpc-js stub of the package's own durable.proto, exactly as listed. A
// field the README does not define fails the case (a case is never passed
// by ignoring what it expects); keys starting with "$" or "_",
// "description" and "comment" are notes. Prints one line per case and a
// summary; exits 1 if a case failed, 2 on a bad file.

const fs = require('fs');
const path = require('path');
const { Readable } = require('stream');

const durable = require('@durabled/client');
// The grpc-js and proto-loader the installed package itself uses.
const packageDir = path.dirname(require.resolve('@durabled/client'));
const fromPackage = (name) => require(require.resolve(name, { paths: [packageDir] }));
const grpc = fromPackage('@grpc/grpc-js');
const protoLoader = fromPackage('@grpc/proto-loader');

const ETAG = /^[0-9a-f]{16}$/;
const CASE_NAME = /^[a-z0-9_]+$/;
const PLACEHOLDER = /\{(root:[^{}]+|case|etag:[^{}]+|uid)\}/g;
const CONTENT_KEYS = ['content', 'content_base64', 'content_repeat'];
const WRITE_FIELDS = ['mode', 'if_absent', 'if_match', 'expected_sha256', 'create_parents',
  ...CONTENT_KEYS];
const STEP_FIELDS = {
  write: WRITE_FIELDS,
  write_stream: [...WRITE_FIELDS, 'chunk_size', 'announce_size'],
  raw_stream: ['messages', 'pause_ms_before_close'],
  stat: [], remove: ['if_match'], whoami: [], stats: [],
};
const COMMON_FIELDS = ['call', 'path', 'expect', 'save_etag', 'socket'];
const WRITES = ['write', 'write_stream', 'raw_stream'];
// Which calls' answers each `expect` field describes.
const EXPECT_FIELDS = {
  created: WRITES,
  superseded: WRITES,
  sha256: WRITES,
  size: [...WRITES, 'stat'],
  mode: ['stat'],
  etag_equals: [...WRITES, 'stat', 'remove'],
  etag_differs: [...WRITES, 'stat', 'remove'],
  uid_is_self: ['whoami'],
  grant_names: ['whoami'],
  denied_roots_count: ['whoami'],
  writes_ok_at_least: ['stats'],
};
const HEADER_FIELDS = ['path', 'size', 'mode', 'if_absent', 'if_match', 'expected_sha256',
  'create_parents'];

class BadCase extends Error {}
class Mismatch extends Error {}

const isNote = (key) => key.startsWith('$') || key.startsWith('_') ||
  key === 'description' || key === 'comment';

function checkFields(what, entry, allowed) {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new BadCase(`${what}: must be an object`);
  }
  const unknown = Object.keys(entry).filter((k) => !allowed.includes(k) && !isNote(k)).sort();
  if (unknown.length) throw new BadCase(`${what}: unknown field(s) ${unknown.join(', ')}`);
}

function contentOf(entry, what) {
  const given = CONTENT_KEYS.filter((key) => key in entry);
  if (given.length > 1) throw new BadCase(`${what}: more than one of ${given.join(', ')}`);
  if (!given.length) return Buffer.alloc(0);
  const value = entry[given[0]];
  if (given[0] === 'content') {
    if (typeof value !== 'string') throw new BadCase(`${what}: content must be a string`);
    return Buffer.from(value, 'utf8');
  }
  if (given[0] === 'content_base64') {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4) {
      throw new BadCase(`${what}: content_base64 is not base64`);
    }
    return Buffer.from(value, 'base64');
  }
  checkFields(`${what}: content_repeat`, value, ['text', 'count']);
  if (typeof value.text !== 'string' || !Number.isInteger(value.count) || value.count < 0) {
    throw new BadCase(`${what}: content_repeat needs a text and a count`);
  }
  return Buffer.from(value.text.repeat(value.count), 'utf8');
}

function digestOf(value) {
  if (value === 'bad31') return Buffer.alloc(31);
  if (typeof value !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(value)) {
    throw new BadCase(`expected_sha256 ${JSON.stringify(value)} is not hex`);
  }
  return Buffer.from(value, 'hex');
}

function tempFiles(dir) {
  const found = [];
  let entries;
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return found; }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.name.startsWith('.durabled-tmp.')) found.push(full);
    else if (entry.isDirectory()) found.push(...tempFiles(full));
  }
  return found;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Runner {
  constructor(base, socket, casesPath) {
    this.base = base;
    this.socket = socket;
    this.document = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
    this.client = new durable.Client({ socket, timeoutMs: 60000 });
    const definition = protoLoader.loadSync(durable.PROTO_PATH, {
      keepCase: true, longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true,
    });
    this.Service = grpc.loadPackageDefinition(definition).durable.v1.DurableWriter;
    this.stub = new this.Service(`unix:${socket}`, grpc.credentials.createInsecure(),
      { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
  }

  close() {
    this.client.close();
    this.stub.close();
  }

  // -- placeholders and paths ---------------------------------------------

  expand(value) {
    if (typeof value === 'string') {
      return value.replace(PLACEHOLDER, (whole, token) => {
        if (token === 'case') return this.caseName;
        if (token === 'uid') return String(process.getuid());
        const colon = token.indexOf(':');
        const kind = token.slice(0, colon);
        const name = token.slice(colon + 1);
        if (kind === 'root') return this.caseDir(name);
        if (!(name in this.etags)) throw new BadCase(`{etag:${name}} used before a step saved it`);
        return this.etags[name];
      });
    }
    if (Array.isArray(value)) return value.map((item) => this.expand(item));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.expand(v)]));
    }
    return value;
  }

  caseDir(root) { return path.join(this.base, 'roots', root, this.caseName); }

  hostPath(relative) {
    const slash = relative.indexOf('/');
    const root = slash < 0 ? relative : relative.slice(0, slash);
    const rest = slash < 0 ? '' : relative.slice(slash + 1);
    if (!root) throw new BadCase(`case-relative path ${JSON.stringify(relative)} names no root`);
    return rest ? path.join(this.caseDir(root), rest) : this.caseDir(root);
  }

  // -- one case -------------------------------------------------------------

  async runCase(testCase, roots) {
    this.caseName = testCase.name;
    this.etags = {};
    checkFields(`case ${this.caseName}`, testCase, ['name', 'setup', 'steps', 'files']);
    const problems = [];
    for (const root of roots) {
      const dir = this.caseDir(root);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      fs.chmodSync(dir, 0o755);
    }
    try {
      try {
        (testCase.setup || []).forEach((entry, i) => this.setup(entry, `setup ${i + 1}`));
        const steps = testCase.steps || [];
        for (let i = 0; i < steps.length; i += 1) await this.step(steps[i], i + 1);
      } catch (error) {
        if (!(error instanceof Mismatch)) throw error;
        problems.push(error.message);
      }
      if (!problems.length) {
        // Files are compared only when every step behaved.
        for (const [relative, state] of Object.entries(testCase.files || {})) {
          if (isNote(relative)) continue;
          problems.push(...this.checkFile(this.expand(relative), state));
        }
      }
      let leftovers = tempFiles(this.base);
      for (let i = 0; leftovers.length && i < 100; i += 1) {
        await sleep(20); // a cancelled stream's temp file goes asynchronously
        leftovers = tempFiles(this.base);
      }
      if (leftovers.length) problems.push(`temp files left behind: ${leftovers.join(', ')}`);
    } finally {
      for (const root of roots) fs.rmSync(this.caseDir(root), { recursive: true, force: true });
    }
    return problems;
  }

  setup(raw, what) {
    const entry = this.expand(raw);
    const kinds = ['file', 'dir', 'symlink', 'fifo'].filter((kind) => kind in entry);
    if (kinds.length !== 1) throw new BadCase(`${what}: needs exactly one of file, dir, symlink, fifo`);
    const kind = kinds[0];
    const allowed = { file: ['file', 'mode', ...CONTENT_KEYS], dir: ['dir'],
      symlink: ['symlink', 'target'], fifo: ['fifo'] }[kind];
    checkFields(what, entry, allowed);
    const target = this.hostPath(entry[kind]);
    if (kind === 'dir') {
      fs.mkdirSync(target, { recursive: true, mode: 0o755 });
      fs.chmodSync(target, 0o755);
      return;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    if (kind === 'file') {
      fs.writeFileSync(target, contentOf(entry, what));
      fs.chmodSync(target, entry.mode === undefined ? 0o644 : entry.mode);
    } else if (kind === 'symlink') {
      if (typeof entry.target !== 'string') throw new BadCase(`${what}: a symlink needs a target`);
      fs.symlinkSync(entry.target, target);
    } else {
      const { status } = require('child_process').spawnSync('mkfifo', ['-m', '0644', target]);
      if (status !== 0) throw new Error(`mkfifo ${target} failed`);
    }
  }

  async step(raw, index) {
    const call = raw.call;
    if (!(call in STEP_FIELDS)) throw new BadCase(`step ${index}: unknown call ${JSON.stringify(call)}`);
    checkFields(`step ${index} (${call})`, raw, [...COMMON_FIELDS, ...STEP_FIELDS[call]]);
    const step = this.expand(raw);
    const label = `step ${index} (${call}${raw.path ? ` ${raw.path}` : ''})`;
    const { expect } = step;
    if (expect === null || typeof expect !== 'object' || !('code' in expect)) {
      throw new BadCase(`${label}: expect.code is required`);
    }
    checkFields(`${label}: expect`, expect, ['code', 'message_contains', ...Object.keys(EXPECT_FIELDS)]);
    for (const [field, calls] of Object.entries(EXPECT_FIELDS)) {
      if (field in expect && !calls.includes(call)) {
        throw new BadCase(`${label}: expect.${field} does not apply to ${call}`);
      }
    }
    if (!(expect.code in durable.codes)) throw new BadCase(`${label}: unknown code ${expect.code}`);
    if (call !== 'whoami' && call !== 'stats' && typeof step.path !== 'string') {
      throw new BadCase(`${label}: path is required`);
    }
    if (step.socket !== undefined && step.socket !== 'missing') {
      throw new BadCase(`${label}: unknown socket ${JSON.stringify(step.socket)}`);
    }
    const [code, message, answer] = await this.perform(call, step, step.socket === 'missing');
    const problems = this.compare(call, expect, code, message, answer);
    if (problems.length) throw new Mismatch(`${label}: ${problems.join('; ')}`);
    if ('save_etag' in step && code === 'OK') {
      if (typeof answer.etag !== 'string') throw new BadCase(`${label}: save_etag, but ${call} answers no etag`);
      this.etags[step.save_etag] = answer.etag;
    }
  }

  missingSocket() { return path.join(this.base, `missing-${this.caseName}.sock`); }

  async perform(call, step, missing) {
    if (call === 'raw_stream') return this.rawStream(step, missing);
    const client = missing
      ? new durable.Client({ socket: this.missingSocket(), timeoutMs: 60000 }) : this.client;
    try {
      return ['OK', '', await this.callClient(client, call, step)];
    } catch (error) {
      if (error instanceof durable.DurableError) return [error.codeName, error.message, null];
      throw error;
    } finally {
      if (missing) client.close();
    }
  }

  async callClient(client, call, step) {
    const filePath = step.path;
    if (call === 'write' || call === 'write_stream') {
      const data = contentOf(step, call);
      const options = {
        mode: step.mode === undefined ? 0 : step.mode,
        ifAbsent: Boolean(step.if_absent),
        ifMatch: step.if_match || null,
        createParents: Boolean(step.create_parents),
      };
      if ('expected_sha256' in step) options.expectedSha256 = digestOf(step.expected_sha256);
      if (call === 'write') return client.write(filePath, data, options);
      const chunkSize = step.chunk_size === undefined ? 65536 : step.chunk_size;
      if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new BadCase('chunk_size must be positive');
      const chunks = [];
      for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
      if (step.announce_size !== false) options.size = data.length;
      return client.write(filePath, Readable.from(chunks), options);
    }
    if (call === 'stat') return client.stat(filePath);
    if (call === 'remove') return client.remove(filePath, { ifMatch: step.if_match || null });
    if (call === 'whoami') return client.whoami();
    return client.stats();
  }

  async rawStream(step, missing) {
    const messages = (step.messages || []).map((raw, i) => {
      const what = `messages[${i + 1}]`;
      checkFields(what, raw, ['header', 'data', 'finish', ...CONTENT_KEYS]);
      const message = {};
      if ('header' in raw) {
        const h = raw.header;
        checkFields(`${what}.header`, h, HEADER_FIELDS);
        message.header = {
          path: h.path === undefined ? '' : h.path,
          options: {
            mode: h.mode === undefined ? 0 : h.mode,
            if_absent: Boolean(h.if_absent),
            if_match: h.if_match === undefined ? '' : h.if_match,
            create_parents: Boolean(h.create_parents),
            expected_sha256: 'expected_sha256' in h ? digestOf(h.expected_sha256) : Buffer.alloc(0),
          },
        };
        if ('size' in h) message.header.size = String(h.size);
      }
      if (typeof raw.data === 'string') message.data = Buffer.from(raw.data, 'utf8');
      else if (raw.data !== undefined && raw.data !== null && typeof raw.data === 'object') {
        message.data = contentOf(raw.data, `${what}.data`);
      } else if (raw.data !== undefined) {
        throw new BadCase(`${what}.data must be a string or a content object`);
      } else if (CONTENT_KEYS.some((key) => key in raw)) message.data = contentOf(raw, what);
      message.finish = Boolean(raw.finish);
      return message;
    });
    const pause = step.pause_ms_before_close || 0;
    const stub = missing
      ? new this.Service(`unix:${this.missingSocket()}`, grpc.credentials.createInsecure()) : this.stub;
    try {
      return await new Promise((resolve) => {
        const call = stub.WriteStream({ deadline: new Date(Date.now() + 60000) }, (error, response) => {
          if (error) {
            const name = Object.keys(durable.codes).find((k) => durable.codes[k] === error.code);
            resolve([name || 'UNKNOWN', error.details || '', null]);
          }
          else {
            resolve(['OK', '', {
              size: Number(response.size), sha256: Buffer.from(response.sha256),
              etag: response.etag, created: response.created, superseded: response.superseded,
            }]);
          }
        });
        call.on('error', () => {});
        (async () => {
          for (const message of messages) call.write(message);
          if (pause) await sleep(pause);
          call.end();
        })();
      });
    } finally {
      if (missing) stub.close();
    }
  }

  compare(call, expect, code, message, answer) {
    if (code !== expect.code) return [`expected ${expect.code}, got ${code}${message ? ` (${message})` : ''}`];
    const problems = [];
    let wanted = expect.message_contains || [];
    if (typeof wanted === 'string') wanted = [wanted];
    for (const part of wanted) {
      if (!message.includes(part)) problems.push(`message ${JSON.stringify(message)} lacks ${JSON.stringify(part)}`);
    }
    if (code !== 'OK') {
      const fields = Object.keys(EXPECT_FIELDS).filter((f) => f in expect).sort();
      if (fields.length) throw new BadCase(`expect.${fields[0]} given for a failing call`);
      return problems;
    }
    const etag = answer && typeof answer.etag === 'string' ? answer.etag : undefined;
    if (etag !== undefined && !ETAG.test(etag)) problems.push(`etag ${JSON.stringify(etag)} is not 16 lowercase hex digits`);
    const same = (field, actual) => {
      if (field in expect && expect[field] !== actual) {
        problems.push(`${field}: expected ${JSON.stringify(expect[field])}, got ${JSON.stringify(actual)}`);
      }
    };
    if (WRITES.includes(call)) {
      same('created', answer.created);
      same('superseded', answer.superseded);
      same('size', answer.size);
      same('sha256', answer.sha256.toString('hex'));
    }
    if (call === 'stat') {
      same('size', answer.size);
      same('mode', answer.mode);
    }
    same('etag_equals', etag);
    if ('etag_differs' in expect && etag === expect.etag_differs) problems.push(`etag ${etag} did not change`);
    if (call === 'whoami') {
      if ('uid_is_self' in expect && (answer.uid === process.getuid()) !== expect.uid_is_self) {
        problems.push(`uid_is_self: expected ${expect.uid_is_self}, uid ${answer.uid}, the runner's ${process.getuid()}`);
      }
      if ('grant_names' in expect) {
        const got = [...new Set(answer.grants.map((g) => g.name).filter((n) => n))].sort();
        const want = [...new Set(expect.grant_names)].sort();
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          problems.push(`grant names ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
        }
      }
      same('denied_roots_count', answer.deniedRoots.length);
    }
    if (call === 'stats' && 'writes_ok_at_least' in expect && answer.writesOk < expect.writes_ok_at_least) {
      problems.push(`writes_ok ${answer.writesOk} < ${expect.writes_ok_at_least}`);
    }
    return problems;
  }

  checkFile(relative, state) {
    checkFields(`files[${relative}]`, state, ['absent', 'type', 'mode', ...CONTENT_KEYS]);
    const target = this.hostPath(relative);
    let info = null;
    try { info = fs.lstatSync(target); } catch (error) { if (error.code !== 'ENOENT') throw error; }
    if (state.absent) {
      if (Object.keys(state).filter((k) => !isNote(k)).length > 1) {
        throw new BadCase(`files[${relative}]: absent with other fields`);
      }
      return info === null ? [] : [`${relative} exists, expected absent`];
    }
    if (info === null) return [`${relative} does not exist`];
    const problems = [];
    const hasContent = CONTENT_KEYS.some((key) => key in state);
    let kind = state.type;
    if (kind === undefined && hasContent) kind = 'file';
    const checks = { file: 'isFile', dir: 'isDirectory', symlink: 'isSymbolicLink', fifo: 'isFIFO' };
    if (kind !== undefined) {
      if (!(kind in checks)) throw new BadCase(`files[${relative}]: unknown type ${JSON.stringify(kind)}`);
      if (!info[checks[kind]]()) return [`${relative} is not a ${kind} (mode ${info.mode.toString(8)})`];
    }
    if (hasContent) {
      const expected = contentOf(state, `files[${relative}]`);
      const actual = fs.readFileSync(target);
      if (!actual.equals(expected)) {
        problems.push(`${relative} holds ${actual.length} bytes ${JSON.stringify(actual.subarray(0, 40).toString())}, ` +
          `expected ${expected.length} bytes ${JSON.stringify(expected.subarray(0, 40).toString())}`);
      }
    }
    if ('mode' in state && (info.mode & 0o7777) !== state.mode) {
      problems.push(`${relative} has mode ${(info.mode & 0o7777).toString(8)}, expected ${Number(state.mode).toString(8)}`);
    }
    return problems;
  }

  // -- all cases --------------------------------------------------------------

  async run(selected) {
    checkFields('cases file', this.document, ['roots', 'cases']);
    const roots = this.document.roots || [];
    const cases = this.document.cases || [];
    const names = new Set();
    for (const testCase of cases) {
      const name = testCase && testCase.name;
      if (typeof name !== 'string' || !CASE_NAME.test(name) || names.has(name)) {
        throw new BadCase(`case name ${JSON.stringify(name)} is not [a-z0-9_]+ or not unique`);
      }
      names.add(name);
    }
    const unknown = selected.filter((name) => !names.has(name));
    if (unknown.length) throw new BadCase(`no such case: ${unknown.join(', ')}`);
    const failed = [];
    const bad = [];
    let ran = 0;
    const started = Date.now();
    for (const testCase of cases) {
      if (selected.length && !selected.includes(testCase.name)) continue;
      ran += 1;
      let problems;
      try {
        problems = await this.runCase(testCase, roots);
      } catch (error) {
        if (error instanceof BadCase) {
          bad.push(testCase.name);
          console.log(`BAD  ${testCase.name}: case format: ${error.message}`);
          continue;
        }
        problems = [`${error.name}: ${error.message}`];
      }
      if (problems.length) {
        failed.push(testCase.name);
        console.log(`FAIL ${testCase.name}: ${problems.join(' | ')}`);
      } else {
        console.log(`ok   ${testCase.name}`);
      }
    }
    console.log(`node conformance: ${ran - failed.length - bad.length} of ${ran} cases passed, ` +
      `${failed.length} failed, ${bad.length} malformed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    for (const name of [...failed, ...bad]) console.log(`  not passed: ${name}`);
    return failed.length || bad.length ? 1 : 0;
  }
}

async function main(argv) {
  let override;
  if (argv[0] === '--cases' && argv.length >= 2) { override = argv[1]; argv = argv.slice(2); }
  const base = process.env.DURABLE_CONFORMANCE_BASE;
  const socket = process.env.DURABLED_SOCKET;
  const cases = override || process.env.DURABLE_CONFORMANCE_CASES;
  if (!base || !socket || !cases) {
    console.error('DURABLE_CONFORMANCE_BASE, DURABLED_SOCKET and DURABLE_CONFORMANCE_CASES must be ' +
      'set: run under tests/conformance/with-daemon.sh');
    return 2;
  }
  const version = require(require.resolve('@durabled/client/package.json')).version;
  console.log(`@durabled/client ${version} from ${packageDir}`);
  const runner = new Runner(base, socket, cases);
  try {
    return await runner.run(argv);
  } catch (error) {
    if (!(error instanceof BadCase)) throw error;
    console.error(`bad cases file ${cases}: ${error.message}`);
    return 2;
  } finally {
    runner.close();
  }
}

main(process.argv.slice(2)).then((status) => { process.exitCode = status; },
  (error) => { console.error(error); process.exitCode = 1; });
