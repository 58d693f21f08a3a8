// What export takes and says about itself; the run is in export.ts.
import { defineCommand } from '../../lib/cli/command.ts'
import { DEFAULT_CONFIG } from '../../lib/cli/context.ts'

export default defineCommand({
  name: 'export',
  summary: 'write the stack for another engine to run (systemd, kubernetes, compose)',
  description: `Writes the stack for another engine to run, into DIR (created if missing; files there with the same
names are replaced). systemd: a template unit per server (NAME@PORT.service: one instance per port), one for the
generated nginx, and STACK.target, which starts them all:
  backend-manager export systemd -o ~/.config/systemd/user/mystack
then link or copy the units into ~/.config/systemd/user/ and run systemctl --user start STACK.target.
kubernetes (or k8s): DIR/STACK.yaml, every object in one file; --mode services (default): per server a Deployment
and a Service, a Job per task, an Ingress with the proxy's routes; --mode pod: one Deployment whose pods each run
backend-manager with the whole stack, its config in a ConfigMap:
  backend-manager export kubernetes -o k8s && kubectl apply -f k8s/STACK.yaml
compose: DIR/compose.yaml with a service per server instance and the generated nginx (DIR/nginx/nginx.conf) in
front; docker compose -p STACK -f DIR/compose.yaml up starts it.`,
  args: [
    { name: 'TARGET', description: 'what to export to: systemd, kubernetes (or k8s), compose' },
    { name: 'CONFIG', description: `the config file (default: ${DEFAULT_CONFIG})` },
  ],
  flags: {
    output: { type: 'string', short: 'o', value: 'DIR', description: 'the folder to write into (required)' },
    name: {
      type: 'string',
      value: 'NAME',
      description: "the units' prefix, compose's project name (default: the config folder's name)",
    },
    mode: {
      type: 'string',
      value: 'MODE',
      choices: ['services', 'pod'],
      description: `kubernetes only: services (default), a Deployment per server; pod, one Deployment whose pods run
        backend-manager with the whole stack`,
    },
  },
})
