// What completion takes and says about itself; the run is in completion.ts.
import { defineCommand } from '../../lib/cli/command.ts'

export default defineCommand({
  name: 'completion',
  summary: 'print the shell completion script for bash, zsh or fish',
  description: `Prints a script that completes commands, their flags, and the servers and instances of the
running stack (for logs, pause, resume, scale and restart --only). Load it from your shell's start-up file:
  bash: source <(backend-manager completion bash)
  zsh:  source <(backend-manager completion zsh)
  fish: backend-manager completion fish | source`,
  args: [{ name: 'bash|zsh|fish', description: 'the shell to print the script for' }],
  flags: {
    names: {
      type: 'boolean',
      description: "print the running stack's server names, one a line (what the scripts call; reads only the state)",
    },
    instances: { type: 'boolean', description: 'with --names: each instance (NAME-i) too' },
  },
})
