/**
 * Entry of the load generator process (forked by load-driver.ts childLoad): runs one job at a time
 * on request over IPC and exits when the bench disconnects. Never started by hand.
 */
import type { FromChild, ToChild } from './load-driver.js';
import { LoadGenerator } from './load-generator.js';

if (!process.send) {
  console.error('cannot run load-child: it is started by the benchmark (npm run bench), not by hand');
  process.exit(2);
}

const generator = new LoadGenerator();
const reply = (msg: FromChild) => process.send!(msg);

async function run(msg: ToChild): Promise<unknown> {
  switch (msg.kind) {
    case 'connect':
      return generator.connect(msg.job);
    case 'harvestHour':
      return generator.harvestHour(msg.job, (minute, at) => reply({ id: msg.id, kind: 'minute', minute, at }));
    case 'beacons':
      return generator.beacons(msg.job);
  }
}

process.on('message', (msg: ToChild) => {
  run(msg).then(
    (result) => reply({ id: msg.id, kind: 'done', result }),
    (err: Error) => reply({ id: msg.id, kind: 'failed', message: err.message }),
  );
});

process.on('disconnect', () => {
  generator.close();
  process.exit(0);
});
