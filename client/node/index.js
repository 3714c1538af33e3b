'use strict';
// @durabled/client: the Node client of durabled (durable, atomic file
// replacement over a Unix socket). The API is documented in index.d.ts and
// README.md; the wire protocol in proto/durable/v1/durable.proto, a copy of
// which ships inside this package (staged into it when it is packed).

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEFAULT_SOCKET = '/run/durabled/durabled.sock';
const SOCKET_ENV = 'DURABLED_SOCKET';
const PROTO_DIR = path.join(__dirname, 'proto');
const PROTO_PATH = path.join(PROTO_DIR, 'durable', 'v1', 'durable.proto');
const INT64_MAX = 9223372036854775807n;

/** gRPC status codes by name (grpc.status), e.g. codes.ABORTED === 10. */
const codes = Object.freeze(Object.fromEntries(
  Object.entries(grpc.status).filter(([name, value]) =>
    typeof value === 'number' && /^[A-Z_]+$/.test(name))));
const codeNames = Object.freeze(Object.fromEntries(
  Object.entries(codes).map(([name, value]) => [value, name])));

/** An error of a durabled call: the daemon's status code and message. */
class DurableError extends Error {
  constructor(code, message, filePath) {
    super(message);
    this.name = 'DurableError';
    /** The numeric gRPC status code (codes.PERMISSION_DENIED === 7). */
    this.code = code;
    /** Its name, e.g. 'PERMISSION_DENIED'. */
    this.codeName = codeNames[code] || 'UNKNOWN';
    /** The path of the call, undefined for whoami and stats. */
    this.path = filePath;
  }
}

function defaultSocketPath() {
  const fromEnvironment = process.env[SOCKET_ENV];
  return fromEnvironment ? fromEnvironment : DEFAULT_SOCKET;
}

let service;
function loadService() {
  if (service) return service;
  if (!fs.existsSync(PROTO_PATH)) {
    throw new Error(`@durabled/client: ${PROTO_PATH} is missing; use the ` +
      'packed package (client/node/test/run-tests.sh builds it), not the ' +
      'source tree');
  }
  const definition = protoLoader.loadSync(PROTO_PATH, {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  service = grpc.loadPackageDefinition(definition).durable.v1.DurableWriter;
  return service;
}

// A JavaScript string becomes UTF-8 on the wire; a lone surrogate cannot, and
// protobufjs would silently turn it into U+FFFD (another path).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkString(what, value, filePath) {
  if (typeof value !== 'string') {
    throw new TypeError(`${what} must be a string, not ${typeof value}`);
  }
  if (LONE_SURROGATE.test(value)) {
    throw new DurableError(codes.INVALID_ARGUMENT,
      `${JSON.stringify(filePath)}: the ${what} is not valid Unicode (a lone ` +
      'surrogate); the API carries it as UTF-8', filePath);
  }
}

function toNumber(value) {
  // uint64 fields arrive as decimal strings (longs: String): below 2^53
  // exact, above rounded (no size or counter of a real daemon gets there).
  return Number(value);
}

function isBytes(value) {
  return value instanceof Uint8Array; // Buffer included
}

function asBuffer(chunk, filePath) {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) {
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError(`${filePath}: the content yielded a ${typeof chunk}; ` +
    'yield Buffers, Uint8Arrays or strings');
}

function writeOptions(filePath, options) {
  const mode = options.mode === undefined ? 0 : options.mode;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0xffffffff) {
    throw new TypeError(`mode must be a non-negative integer (e.g. 0o644), not ${mode}`);
  }
  const ifMatch = options.ifMatch === undefined || options.ifMatch === null
    ? '' : options.ifMatch;
  checkString('ifMatch etag', ifMatch, filePath);
  let sha = Buffer.alloc(0);
  const expected = options.expectedSha256;
  if (expected !== undefined && expected !== null) {
    if (typeof expected === 'string') {
      if (!/^([0-9a-fA-F]{2})*$/.test(expected)) {
        throw new TypeError(`expectedSha256 must be hex or bytes, not ${JSON.stringify(expected)}`);
      }
      sha = Buffer.from(expected, 'hex');
    } else if (isBytes(expected)) {
      sha = asBuffer(expected, filePath);
    } else {
      throw new TypeError('expectedSha256 must be a Buffer, a Uint8Array or a hex string');
    }
  }
  return {
    mode,
    if_absent: Boolean(options.ifAbsent),
    if_match: ifMatch,
    expected_sha256: sha,
    create_parents: Boolean(options.createParents),
  };
}

function writeResult(response) {
  return {
    size: toNumber(response.size),
    sha256: Buffer.from(response.sha256),
    etag: response.etag,
    created: response.created,
    superseded: response.superseded,
  };
}

function checkSize(size) {
  if (size === undefined || size === null) return undefined;
  if (typeof size === 'bigint') {
    if (size < 0n || size > 0xffffffffffffffffn) throw new RangeError(`size ${size} is out of range`);
    return size;
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new TypeError(`size must be a non-negative integer, not ${size}`);
  }
  return BigInt(size);
}

// The size of an fs.ReadStream that reads a whole regular file.
async function readStreamSize(stream) {
  if (!(stream instanceof fs.ReadStream)) return undefined;
  if (typeof stream.path !== 'string' && !Buffer.isBuffer(stream.path)) return undefined;
  if ((stream.start !== undefined && stream.start !== 0) ||
      (stream.end !== undefined && stream.end !== Infinity)) return undefined;
  if (stream.bytesRead !== 0) return undefined;
  try {
    const info = await fs.promises.stat(stream.path);
    return info.isFile() ? BigInt(info.size) : undefined;
  } catch {
    return undefined;
  }
}

function isAsyncIterable(value) {
  return value !== null && typeof value === 'object' &&
    (typeof value[Symbol.asyncIterator] === 'function' ||
     typeof value[Symbol.iterator] === 'function');
}

/** A connection to durabled. */
class Client {
  constructor(options = {}) {
    const { socket = defaultSocketPath(), timeoutMs = 600000,
      streamThreshold = 4 << 20, chunkSize = 1 << 20 } = options;
    if (typeof socket !== 'string' || socket === '') {
      throw new TypeError('socket must be a non-empty path');
    }
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, not ${timeoutMs}`);
    if (!Number.isInteger(streamThreshold) || streamThreshold < 0) {
      throw new RangeError('streamThreshold must be a non-negative integer');
    }
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new RangeError('chunkSize must be a positive integer');
    }
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.streamThreshold = streamThreshold;
    this.chunkSize = chunkSize;
    const Service = loadService();
    this._stub = new Service(`unix:${socket}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': -1,
      // Each Client its own connection: the daemon identifies the caller
      // per connection.
      'grpc.use_local_subchannel_pool': 1,
    });
    this._closed = false;
  }

  /** Closes the connection; later calls fail with FAILED_PRECONDITION. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._stub.close();
  }

  _error(error, filePath) {
    if (error instanceof DurableError) return error;
    const code = typeof error.code === 'number' ? error.code : codes.UNKNOWN;
    let message = error.details !== undefined ? error.details : String(error.message);
    if (code === codes.UNAVAILABLE) {
      message = `cannot reach durabled at ${this.socket} (${message}); is the ` +
        'daemon running, may you open its socket, and does a rule allow your ' +
        'uid or one of your groups?';
    }
    const result = new DurableError(code, message, filePath);
    if (error.metadata) result.metadata = error.metadata;
    return result;
  }

  _checkOpen(filePath) {
    if (this._closed) {
      throw new DurableError(codes.FAILED_PRECONDITION,
        `this durable Client (${this.socket}) is closed`, filePath);
    }
  }

  _callOptions() {
    return { deadline: new Date(Date.now() + this.timeoutMs) };
  }

  // A unary call as a promise; `signal` cancels it.
  _unary(method, request, filePath, signal) {
    this._checkOpen(filePath);
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) {
        reject(new DurableError(codes.CANCELLED, `${filePath || method}: aborted before it was sent`, filePath));
        return;
      }
      const call = this._stub[method](request, this._callOptions(), (error, response) => {
        if (signal) signal.removeEventListener('abort', onAbort);
        if (error) reject(this._error(error, filePath));
        else resolve(response);
      });
      function onAbort() { call.cancel(); }
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async write(filePath, data, options = {}) {
    checkString('path', filePath, filePath);
    const protoOptions = writeOptions(filePath, options);
    let size = checkSize(options.size);
    this._checkOpen(filePath);
    if (typeof data === 'string' || isBytes(data)) {
      const buffer = asBuffer(data, filePath);
      if (size !== undefined && size !== BigInt(buffer.length)) {
        throw new RangeError(`${filePath}: size=${size} but the content has ${buffer.length} bytes`);
      }
      if (buffer.length <= this.streamThreshold) {
        const response = await this._unary('Write',
          { path: filePath, data: buffer, options: protoOptions }, filePath, options.signal);
        return writeResult(response);
      }
      const chunkSize = this.chunkSize;
      const chunks = (function* split() {
        for (let offset = 0; offset < buffer.length; offset += chunkSize) {
          yield buffer.subarray(offset, offset + chunkSize);
        }
      })();
      return this._stream(filePath, chunks, BigInt(buffer.length), protoOptions, options);
    }
    if (isAsyncIterable(data)) {
      if (size === undefined) size = await readStreamSize(data);
      return this._stream(filePath, data, size, protoOptions, options);
    }
    throw new TypeError(`${filePath}: data must be a Buffer, Uint8Array, string, ` +
      `Readable or (async) iterable, not ${data === null ? 'null' : typeof data}`);
  }

  // One WriteStream: header (with size, if known), the chunks, finish. A
  // source that fails cancels the call (nothing is published) and its error
  // rejects the promise unchanged.
  _stream(filePath, source, size, protoOptions, options) {
    const { signal, onProgress } = options;
    return new Promise((resolve, reject) => {
      let settled = false;
      let sourceError;
      const total = size === undefined ? 0 : Number(size);
      const finish = (error, value) => {
        if (settled) return;
        settled = true;
        if (signal) signal.removeEventListener('abort', onAbort);
        if (error) reject(error); else resolve(value);
      };
      if (signal && signal.aborted) {
        finish(new DurableError(codes.CANCELLED, `${filePath}: aborted before it was sent`, filePath));
        return;
      }
      const call = this._stub.WriteStream(this._callOptions(), (error, response) => {
        if (sourceError !== undefined) finish(sourceError);
        else if (error) finish(this._error(error, filePath));
        else finish(null, writeResult(response));
      });
      function onAbort() { call.cancel(); }
      if (signal) signal.addEventListener('abort', onAbort, { once: true });

      const header = { path: filePath, options: protoOptions };
      if (size !== undefined) header.size = size.toString();
      const send = (message) => new Promise((done) => {
        // write() returning false only asks us to wait for 'drain'; an
        // ended call never drains, so the callback or the end also resumes.
        if (call.write(message)) done();
        else {
          const resume = () => { call.removeListener('drain', resume); done(); };
          call.once('drain', resume);
          call.once('status', resume);
          call.once('error', resume);
        }
      });
      let ended = false;
      call.on('status', () => { ended = true; });
      call.on('error', () => { ended = true; });

      (async () => {
        let first = true;
        let sent = 0;
        const iterator = source;
        try {
          for await (const piece of iterator) {
            if (settled || ended) break;
            const buffer = asBuffer(piece, filePath);
            for (let offset = 0; offset < buffer.length || (first && buffer.length === 0);
              offset += this.chunkSize) {
              const part = buffer.subarray(offset, offset + this.chunkSize);
              const message = { data: part, finish: false };
              if (first) { message.header = header; first = false; }
              await send(message);
              sent += part.length;
              if (onProgress) onProgress(sent, total);
              if (ended) break;
              if (buffer.length === 0) break;
            }
          }
        } catch (error) {
          sourceError = error;
          call.cancel();
          return;
        }
        if (settled || ended) return;
        const last = { data: Buffer.alloc(0), finish: true };
        if (first) last.header = header;
        call.write(last);
        call.end();
      })();
    });
  }

  async stat(filePath, options = {}) {
    checkString('path', filePath, filePath);
    const response = await this._unary('Stat', { path: filePath }, filePath, options.signal);
    const mtimeNs = BigInt(response.mtime_ns);
    return {
      size: toNumber(response.size),
      mode: response.mode,
      uid: response.uid,
      gid: response.gid,
      mtimeNs,
      mtimeMs: Number(mtimeNs) / 1e6,
      etag: response.etag,
    };
  }

  async remove(filePath, options = {}) {
    checkString('path', filePath, filePath);
    const ifMatch = options.ifMatch === undefined || options.ifMatch === null
      ? '' : options.ifMatch;
    checkString('ifMatch etag', ifMatch, filePath);
    const response = await this._unary('Remove', { path: filePath, if_match: ifMatch },
      filePath, options.signal);
    return { etag: response.etag };
  }

  // Changes several files together: every member is published durably, or
  // none is (see WriteSet in the proto). Each member is
  // { path, data, mode?, ifMatch?, ifAbsent?, expectedSha256?, createParents? }
  // (a write; data a Buffer, Uint8Array or string) or
  // { path, remove: true, ifMatch? }. Resolves to one result per member, in
  // order: { path, etag, size, sha256, created, removed }.
  writeSet(members, options = {}) {
    if (!Array.isArray(members)) {
      return Promise.reject(new TypeError('writeSet takes an array of members'));
    }
    const header = { members: [] };
    const contents = [];
    try {
      this._checkOpen();
      for (const member of members) {
        if (member === null || typeof member !== 'object' || typeof member.path !== 'string') {
          throw new TypeError('a set member is an object with a string path');
        }
        checkString('path', member.path, member.path);
        if (member.remove) {
          const ifMatch = member.ifMatch === undefined || member.ifMatch === null
            ? '' : member.ifMatch;
          checkString('ifMatch etag', ifMatch, member.path);
          header.members.push({ path: member.path, remove: { if_match: ifMatch } });
          continue;
        }
        if (typeof member.data !== 'string' && !isBytes(member.data)) {
          throw new TypeError(`${member.path}: a write member's data is a Buffer, ` +
            'Uint8Array or string (or set remove: true)');
        }
        const buffer = asBuffer(member.data, member.path);
        header.members.push({
          path: member.path,
          write: { options: writeOptions(member.path, member), size: String(buffer.length) },
        });
        contents.push(buffer);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal } = options;
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) {
        reject(new DurableError(codes.CANCELLED, 'writeSet: aborted before it was sent'));
        return;
      }
      const call = this._stub.WriteSet(this._callOptions(), (error, response) => {
        if (signal) signal.removeEventListener('abort', onAbort);
        if (error) {
          reject(this._error(error));
          return;
        }
        resolve(response.members.map((m) => ({
          path: m.path,
          etag: m.etag,
          size: toNumber(m.size),
          sha256: Buffer.from(m.sha256),
          created: m.created,
          removed: m.removed,
        })));
      });
      function onAbort() { call.cancel(); }
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      // gRPC buffers what the daemon has not read yet; the set's content is
      // in memory already.
      call.write({ header });
      for (const buffer of contents) {
        for (let offset = 0; offset < buffer.length; offset += this.chunkSize) {
          call.write({ data: buffer.subarray(offset, offset + this.chunkSize) });
        }
      }
      call.write({ finish: true });
      call.end();
    });
  }

  async whoami(options = {}) {
    const r = await this._unary('WhoAmI', {}, undefined, options.signal);
    return {
      uid: r.uid,
      gid: r.gid,
      groups: [...r.groups],
      pid: r.pid,
      cgroup: r.cgroup,
      unit: r.unit,
      grants: r.grants.map((g) => ({
        root: g.root,
        name: g.name,
        maxBytes: toNumber(g.max_bytes),
        maxFiles: toNumber(g.max_files),
        maxFileSize: toNumber(g.max_file_size),
        createMode: g.create_mode,
        maxMode: g.max_mode,
        allowOverwrite: g.allow_overwrite,
        allowCreateParents: g.allow_create_parents,
        directoryMode: g.directory_mode,
        versionedLayout: g.versioned_layout,
      })),
      deniedRoots: [...r.denied_roots],
    };
  }

  async stats(options = {}) {
    const r = await this._unary('GetStats', {}, undefined, options.signal);
    if (r.latency_bucket_upper_us.length !== r.latency_bucket_count.length) {
      throw new DurableError(codes.INTERNAL,
        `durabled sent ${r.latency_bucket_upper_us.length} latency bucket ` +
        `bounds but ${r.latency_bucket_count.length} counts`);
    }
    const errorsByCode = {};
    for (const [name, count] of Object.entries(r.errors_by_code)) {
      errorsByCode[name] = toNumber(count);
    }
    return {
      uptimeSeconds: toNumber(r.uptime_seconds),
      writesOk: toNumber(r.writes_ok),
      writesFailed: toNumber(r.writes_failed),
      bytesWritten: toNumber(r.bytes_written),
      removesOk: toNumber(r.removes_ok),
      removesFailed: toNumber(r.removes_failed),
      errorsByCode,
      fileSyncs: toNumber(r.file_syncs),
      directorySyncs: toNumber(r.directory_syncs),
      filesystemSyncs: toNumber(r.filesystem_syncs),
      syncErrors: toNumber(r.sync_errors),
      commits: toNumber(r.commits),
      batchedWrites: toNumber(r.batched_writes),
      coalescedWrites: toNumber(r.coalesced_writes),
      latency: r.latency_bucket_upper_us.map((bound, i) => ({
        upperBoundUs: BigInt(bound) === INT64_MAX ? Infinity : toNumber(bound),
        count: toNumber(r.latency_bucket_count[i]),
      })),
      connectionsAccepted: toNumber(r.connections_accepted),
      connectionsRefused: toNumber(r.connections_refused),
      writesInProgress: r.writes_in_progress,
    };
  }
}

module.exports = {
  Client,
  DurableError,
  codes,
  defaultSocketPath,
  DEFAULT_SOCKET,
  PROTO_PATH,
};
