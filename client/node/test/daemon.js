'use strict';
// A real durabled for the tests (like tests/support/test_daemon.h): a
// scratch directory with the config, the socket and the roots; started from
// $DURABLED_BINARY, stopped with SIGTERM (which must exit 0).

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

function connectable(socket) {
  return new Promise((resolve) => {
    const connection = net.connect(socket);
    connection.once('connect', () => { connection.destroy(); resolve(true); });
    connection.once('error', () => resolve(false));
  });
}

class TestDaemon {
  // `config`: the config body; "{base}" becomes the scratch directory,
  // "{uid}" our uid. `dirs`: directories made under it first.
  static async start(config, dirs = []) {
    const binary = process.env.DURABLED_BINARY;
    if (!binary) throw new Error('DURABLED_BINARY is not set (the durabled to test)');
    const daemon = new TestDaemon();
    daemon.base = fs.mkdtempSync(path.join(os.tmpdir(), 'durabled-node-'));
    fs.chmodSync(daemon.base, 0o755);
    for (const dir of dirs) fs.mkdirSync(path.join(daemon.base, dir), { recursive: true, mode: 0o755 });
    daemon.socket = path.join(daemon.base, 'durabled.sock');
    const body = config.replaceAll('{base}', daemon.base)
      .replace(/(^|[^$])\{uid\}/g, `$1${process.getuid()}`);
    fs.writeFileSync(path.join(daemon.base, 'durabled.conf'), body);
    daemon.logPath = path.join(daemon.base, 'durabled.log');
    const log = fs.openSync(daemon.logPath, 'w');
    daemon.process = spawn(binary, [`--config=${path.join(daemon.base, 'durabled.conf')}`],
      { stdio: ['ignore', 'ignore', log] });
    fs.closeSync(log);
    let spawnError;
    daemon.exited = new Promise((resolve) => {
      daemon.process.once('exit', (code, signal) => resolve({ code, signal }));
      daemon.process.once('error', (error) => { spawnError = error; resolve({ error }); });
    });
    let gone = false;
    daemon.exited.then(() => { gone = true; });
    const until = Date.now() + 30000;
    while (!(await connectable(daemon.socket))) {
      if (spawnError) throw new Error(`cannot start ${binary}: ${spawnError.message}`);
      if (gone || Date.now() > until) {
        const text = fs.readFileSync(daemon.logPath, 'utf8');
        throw new Error(`durabled did not start:\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return daemon;
  }

  path(relative) { return path.join(this.base, relative); }

  log() { return fs.readFileSync(this.logPath, 'utf8'); }

  // SIGTERM; resolves to the exit status; removes the scratch directory.
  async stop() {
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 30000);
    const status = await this.exited;
    clearTimeout(timer);
    const log = this.log();
    fs.rmSync(this.base, { recursive: true, force: true });
    if (status.code !== 0) throw new Error(`durabled exited ${JSON.stringify(status)} on SIGTERM:\n${log}`);
    if (/AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:/.test(log)) {
      throw new Error(`sanitizer report in the daemon's log:\n${log}`);
    }
    return status;
  }
}

// Names of durabled temp files anywhere under `dir`.
function tempFiles(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.name.startsWith('.durabled-tmp.')) found.push(full);
    else if (entry.isDirectory()) found.push(...tempFiles(full));
  }
  return found;
}

module.exports = { TestDaemon, tempFiles };
