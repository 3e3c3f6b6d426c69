// Composition root of the lbdns CLI: process argv, environment and streams in, an exit status out.
import { runCli } from './cli.js';

// `lbdns record list | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const status = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
});
process.exitCode = status;
// `serve` returns after an orderly shutdown; anything else still holding the loop open must not hang the shell.
setTimeout(() => process.exit(status), 2000).unref();
