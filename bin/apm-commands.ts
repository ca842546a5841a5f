import type { Command } from './command.js';

export type { Command, CommandOutput } from './command.js';
export { intArg, table } from './command.js';

import { shardCommands } from './commands/shard-commands.js';
import { accountCommands } from './commands/account-commands.js';
// Further command groups: one import and one spread each (keep this marker).
// @command-imports
import { alertCommands } from './commands/alert-commands.js';
import { monitorCommands } from './commands/monitor-commands.js';
import { replicaCommands } from './commands/replica-commands.js';
import { moveCommands } from './commands/move-commands.js';
import { rollupCommands } from './commands/rollup-commands.js';
import { appCommands } from './commands/app-commands.js';

export const commands: Command[] = [
  ...shardCommands,
  ...accountCommands,
  ...appCommands,
  ...rollupCommands,
  ...moveCommands,
  ...replicaCommands,
  // @command-list
  ...alertCommands,
  ...monitorCommands,
];
