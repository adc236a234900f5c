/** `npm run temporal:install`: finds or builds the Temporal CLI and prints its path. */
import { findTemporalCli } from './cli';

findTemporalCli({ onProgress: (message) => console.error(message) }).then(
  (path) => console.log(path),
  (err: Error) => {
    console.error(`error: ${err.message}`);
    process.exit(1);
  },
);
