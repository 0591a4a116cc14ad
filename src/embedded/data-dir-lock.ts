import fs from 'node:fs';
import path from 'node:path';

const LOCK_FILE = 'shardgate-embedded.lock';

/**
 * Claims a PGlite data directory for this process. PGlite writes no postmaster.pid and
 * takes no file lock, so two processes (say, two `npm start`s) would happily open the same
 * directory and corrupt it. The lock file holds the owner's pid; a lock left by a process
 * that no longer exists is taken over.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    const file = path.join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
        return new DataDirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = Number.parseInt(readOrEmpty(file), 10);
      if (Number.isInteger(owner) && isAlive(owner)) {
        const who = owner === process.pid ? 'this process' : `process ${owner}`;
        throw new Error(`embedded database ${dataDir} is already open by ${who}`);
      }
      fs.rmSync(file, { force: true });
    }
    throw new Error(`could not lock embedded database ${dataDir}`);
  }

  release(): void {
    fs.rmSync(this.file, { force: true });
  }
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
