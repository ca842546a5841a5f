'use strict';
// A small HTTP app instrumented by the real `newrelic` agent (loaded first, as the agent requires).
// Configured only through NEW_RELIC_* environment variables by test/e2e/collector-newrelic-agent.test.ts.
// Prints READY <port> once the agent has connected; on the line "shutdown" on stdin it calls
// newrelic.shutdown({ collectPendingData: true }) and exits 0 (1 if the agent reported an error).
const newrelic = require('newrelic');
const http = require('node:http');

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === '/fast') {
    newrelic.setTransactionName('fast');
    res.end('ok');
  } else if (path === '/error') {
    newrelic.setTransactionName('error');
    res.statusCode = 500;
    res.end('failed');
  } else if (path === '/custom') {
    newrelic.setTransactionName('custom');
    newrelic.recordMetric('Known/Value', 0.25);
    res.end('recorded');
  } else {
    res.statusCode = 404;
    res.end('not found');
  }
});

function ready() {
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
}

const agent = newrelic.agent;
if (agent && agent._state === 'started') ready();
else if (agent) agent.once('started', ready);
else {
  process.stderr.write('newrelic agent did not load\n');
  process.exit(2);
}
agent.once('errored', () => {
  process.stderr.write('newrelic agent errored\n');
  process.exit(3);
});

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  input += d;
  if (!input.includes('shutdown\n')) return;
  server.close();
  newrelic.shutdown({ collectPendingData: true, timeout: 20000 }, (err) => {
    if (err) process.stderr.write(`shutdown error: ${err.message}\n`);
    process.exit(err ? 1 : 0);
  });
});
