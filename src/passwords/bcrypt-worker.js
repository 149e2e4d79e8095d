// The worker thread behind the default PasswordHasher: runs bcryptjs off the main
// thread, one task at a time. Plain JavaScript that imports nothing but bcryptjs, so
// it loads the same from src/ (under tsx) and from dist/ (the build copies it there).
// Messages in:  { id, op: 'hash', password, cost } | { id, op: 'compare', password, hash }
// Messages out: { id, value } | { id, error }
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

if (!parentPort) throw new Error('bcrypt-worker.js runs as a worker thread of the gatehouse password hasher');
const port = parentPort;

// On Linux a nice value belongs to a thread, and pid 0 means the calling thread: this
// lowers the priority of this hashing thread only, never of the event loop.
if (workerData && workerData.nice > 0) {
  try {
    setPriority(0, workerData.nice);
  } catch {
    // Not permitted here (a sandbox): hash at normal priority.
  }
}

port.on('message', (task) => {
  try {
    const value = task.op === 'hash' ? bcrypt.hashSync(task.password, task.cost) : bcrypt.compareSync(task.password, task.hash);
    port.postMessage({ id: task.id, value });
  } catch (err) {
    port.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) });
  }
});
