// Compiled with tsc --noEmit --strict against the installed index.d.ts
// (run-tests.sh); never run.
import * as fs from 'fs';
import { Readable } from 'stream';
import {
  Client, DurableError, codes, defaultSocketPath, PROTO_PATH,
  WriteResult, FileStatus, CallerInfo, DaemonStats, RemoveResult, CodeName,
  SetMemberResult,
} from '@durabled/client';

async function main(): Promise<void> {
  const client = new Client({ socket: defaultSocketPath(), timeoutMs: 5000 });
  const written: WriteResult = await client.write('/var/lib/x/state.json', '{"step": 1}', {
    mode: 0o644, createParents: true, expectedSha256: 'ab'.repeat(32),
  });
  const size: number = written.size;
  const digest: Buffer = written.sha256;
  await client.write('state:x', Buffer.from('x'), { ifMatch: written.etag });
  await client.write('state:x', new Uint8Array([1]), { ifAbsent: true });
  await client.write('state:big', fs.createReadStream('/etc/hostname'), {
    size: 10n, onProgress: (sent: number, total: number) => void (sent + total),
    signal: new AbortController().signal,
  });
  await client.write('state:gen', (async function* () { yield 'a'; yield Buffer.from('b'); })());
  await client.write('state:r', Readable.from(['a']), { size: 1 });
  await client.write('state:arr', [Buffer.from('a'), 'b']);
  const info: FileStatus = await client.stat('state:x');
  const ns: bigint = info.mtimeNs;
  const ms: number = info.mtimeMs + info.mode + info.uid + info.gid + info.size;
  const removed: RemoveResult = await client.remove('state:x', { ifMatch: info.etag });
  const set: SetMemberResult[] = await client.writeSet([
    { path: 'state:a', data: 'a', mode: 0o600 },
    { path: 'state:b', remove: true, ifMatch: info.etag },
  ]);
  const setEtag: string = set[0].etag;
  const me: CallerInfo = await client.whoami();
  const names: string[] = me.grants.map((g) => g.name + g.root + g.maxBytes.toFixed());
  const stats: DaemonStats = await client.stats();
  const bound: number = stats.latency[0].upperBoundUs;
  const errors: Record<string, number> = stats.errorsByCode;
  try {
    await client.stat('rel');
  } catch (error) {
    if (error instanceof DurableError && error.code === codes.PERMISSION_DENIED) {
      const name: CodeName = error.codeName;
      const where: string | undefined = error.path;
      console.log(name, where, error.message);
    }
  }
  // @ts-expect-error: data must be content, not a number
  await client.write('state:x', 42);
  // @ts-expect-error: unknown option
  await client.write('state:x', 'x', { ifabsent: true });
  const denied: 7 = codes.PERMISSION_DENIED;
  console.log(size, digest, ns, ms, removed.etag, setEtag, names, bound, errors, denied, PROTO_PATH);
  client.close();
}

void main();
