// Types of @durabled/client. Integers the API carries as uint64 (sizes,
// quotas, counters) are numbers: exact up to 2^53 (8 PiB), rounded beyond.
// Only Stat's mtime, nanoseconds since the epoch, is a bigint (mtimeNs).

/// <reference types="node" />

/** gRPC status codes by name: `codes.PERMISSION_DENIED === 7`. */
export declare const codes: Readonly<{
  OK: 0; CANCELLED: 1; UNKNOWN: 2; INVALID_ARGUMENT: 3; DEADLINE_EXCEEDED: 4;
  NOT_FOUND: 5; ALREADY_EXISTS: 6; PERMISSION_DENIED: 7; RESOURCE_EXHAUSTED: 8;
  FAILED_PRECONDITION: 9; ABORTED: 10; OUT_OF_RANGE: 11; UNIMPLEMENTED: 12;
  INTERNAL: 13; UNAVAILABLE: 14; DATA_LOSS: 15; UNAUTHENTICATED: 16;
}>;

export type CodeName = keyof typeof codes;

/** "/run/durabled/durabled.sock" */
export declare const DEFAULT_SOCKET: string;
/** The durable.proto shipped in this package (to generate other stubs). */
export declare const PROTO_PATH: string;
/** $DURABLED_SOCKET if set and not empty, else DEFAULT_SOCKET. */
export declare function defaultSocketPath(): string;

/**
 * Every failed call rejects with a DurableError: the daemon's status code
 * and message (see durable.proto), UNAVAILABLE if the daemon cannot be
 * reached. Wrong argument types reject with TypeError or RangeError; a
 * failing stream source rejects with its own error (nothing is published).
 */
export declare class DurableError extends Error {
  readonly name: 'DurableError';
  /** The numeric gRPC status code, e.g. 7. */
  readonly code: number;
  /** Its name, e.g. 'PERMISSION_DENIED'. */
  readonly codeName: CodeName;
  /** The path of the call (undefined for whoami and stats). */
  readonly path: string | undefined;
}

export interface ClientOptions {
  /** Default: defaultSocketPath(). */
  socket?: string;
  /** Deadline of each call in ms (default 600000): DEADLINE_EXCEEDED past it. */
  timeoutMs?: number;
  /** Buffers and strings larger than this (default 4 MiB) are streamed. */
  streamThreshold?: number;
  /** Largest chunk of a streamed write (default 1 MiB). */
  chunkSize?: number;
}

export interface CallOptions {
  /** Aborting cancels the call (CANCELLED; a write publishes nothing). */
  signal?: AbortSignal;
}

export type Chunk = Buffer | Uint8Array | string;
/** Strings are written as UTF-8. */
export type Content =
  | Chunk
  | NodeJS.ReadableStream
  | AsyncIterable<Chunk>
  | Iterable<Chunk>;

export interface WriteOptions extends CallOptions {
  /** Permission bits (0o7777 at most); 0/absent: rule's create_mode, or keep. */
  mode?: number;
  /** Fail with ALREADY_EXISTS if the file exists. */
  ifAbsent?: boolean;
  /** Fail with ABORTED unless the file's current etag is this. */
  ifMatch?: string | null;
  /** DATA_LOSS unless the content has this SHA-256 (32 bytes, or 64 hex). */
  expectedSha256?: Buffer | Uint8Array | string | null;
  /** Create missing parent directories (if the rule allows it). */
  createParents?: boolean;
  /**
   * The content's size, announced in the stream's header: the daemon then
   * refuses content over a limit before staging it, and INVALID_ARGUMENT
   * if the stream carries another size. Found by itself for a Buffer and
   * for an fs.ReadStream of a whole regular file.
   */
  size?: number | bigint | null;
  /** Called as a streamed write progresses (total 0 if unknown). */
  onProgress?: (sent: number, total: number) => void;
}

export interface RemoveOptions extends CallOptions {
  /** Remove only this version: ABORTED unless the etag is this. */
  ifMatch?: string | null;
}

export interface WriteResult {
  /** Bytes now in the file. */
  size: number;
  /** SHA-256 of the content written (32 bytes). */
  sha256: Buffer;
  /** 16 lowercase hex digits; compare for equality only. */
  etag: string;
  /** The path did not exist before. */
  created: boolean;
  /** A newer write of the file was published in this one's place. */
  superseded: boolean;
}

export interface FileStatus {
  size: number;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, nanoseconds since the epoch. */
  mtimeNs: bigint;
  /** The same in milliseconds (fractional). */
  mtimeMs: number;
  etag: string;
}

export interface RemoveResult {
  /** The etag of the removed file. */
  etag: string;
}

export interface Grant {
  /** Directory the caller may write under; '' if the rule hides it. */
  root: string;
  /** Name for "name:relative/path"; '' if none. */
  name: string;
  /** Quota of the root (0: none). */
  maxBytes: number;
  maxFiles: number;
  maxFileSize: number;
  createMode: number;
  maxMode: number;
  allowOverwrite: boolean;
  allowCreateParents: boolean;
  directoryMode: number;
  /** Sets under the root use the versioned ..data layout. */
  versionedLayout: boolean;
}

export interface CallerInfo {
  uid: number;
  gid: number;
  groups: number[];
  pid: number;
  cgroup: string;
  unit: string;
  grants: Grant[];
  deniedRoots: string[];
}

export interface LatencyBucket {
  /** Calls that took less than this many µs; Infinity for the last. */
  upperBoundUs: number;
  count: number;
}

export interface DaemonStats {
  uptimeSeconds: number;
  writesOk: number;
  writesFailed: number;
  bytesWritten: number;
  removesOk: number;
  removesFailed: number;
  /** Failed writes and removes by status code name. */
  errorsByCode: Record<string, number>;
  fileSyncs: number;
  directorySyncs: number;
  filesystemSyncs: number;
  syncErrors: number;
  commits: number;
  batchedWrites: number;
  coalescedWrites: number;
  latency: LatencyBucket[];
  connectionsAccepted: number;
  connectionsRefused: number;
  writesInProgress: number;
}

/** A write member of writeSet: `path` gets `data`, with write's options. */
export interface SetWriteMember {
  path: string;
  data: Buffer | Uint8Array | string;
  mode?: number;
  ifMatch?: string | null;
  ifAbsent?: boolean;
  expectedSha256?: Buffer | Uint8Array | string | null;
  createParents?: boolean;
  remove?: false;
}

/** A remove member of writeSet. */
export interface SetRemoveMember {
  path: string;
  remove: true;
  ifMatch?: string | null;
}

export type SetMember = SetWriteMember | SetRemoveMember;

export interface SetMemberResult {
  path: string;
  /** A write's new version; a remove's removed version. */
  etag: string;
  size: number;
  sha256: Buffer;
  created: boolean;
  removed: boolean;
}

/**
 * One connection to durabled. `path` everywhere: an absolute host path or
 * "name:relative/path" under a named root (whoami lists the names).
 */
export declare class Client {
  constructor(options?: ClientOptions);
  readonly socket: string;
  readonly timeoutMs: number;
  readonly streamThreshold: number;
  readonly chunkSize: number;
  /** Makes `path` hold exactly `data`, durably (streamed if large or a stream). */
  write(path: string, data: Content, options?: WriteOptions): Promise<WriteResult>;
  stat(path: string, options?: CallOptions): Promise<FileStatus>;
  remove(path: string, options?: RemoveOptions): Promise<RemoveResult>;
  /** Changes several files together: every member or none (WriteSet). */
  writeSet(members: SetMember[], options?: CallOptions): Promise<SetMemberResult[]>;
  whoami(options?: CallOptions): Promise<CallerInfo>;
  /** The daemon's counters (root or the daemon's uid only). */
  stats(options?: CallOptions): Promise<DaemonStats>;
  /** Closes the connection; later calls reject with FAILED_PRECONDITION. */
  close(): void;
}
