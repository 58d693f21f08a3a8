// Every engine a stack can be exported to, as data: what it writes and how it is started there.
import fs from 'node:fs'
import type { Plan } from '../config/plan.ts'
import { homeAt } from '../core/home.ts'
import { prepareNginxDirs } from '../proxy/nginx/render.ts'
import { renderSystemdUnits } from './systemd.ts'
import { KUBERNETES_MODES, renderKubernetes, type KubernetesMode } from './kubernetes.ts'
import { readEnvFiles, renderCompose } from './compose.ts'

export interface ExportOptions {
  // A prefix for what the target names (units, services, objects): lowercase letters, digits, "-".
  name: string
  // The folder written into (absolute).
  dir: string
  // The nginx binary found on this machine, for targets that run it directly.
  nginx: string
  // --mode, for a target that has modes.
  mode?: string
}

export interface ExportTarget {
  summary: string
  // Files to write, relative to the folder, as text; pure.
  render(plan: Plan, opts: ExportOptions): Record<string, string>
  // Once the files are written: what else must exist before it can start.
  prepare?(files: Record<string, string>, opts: ExportOptions): void
  // One line that says how to start what was written.
  startHint(opts: ExportOptions): string
  // Other names the target answers to, and the --mode values it takes (none: --mode is refused).
  aliases?: readonly string[]
  modes?: readonly string[]
}

export const EXPORT_TARGETS: Record<string, ExportTarget> = {
  systemd: {
    summary: 'systemd user units: a template unit per server, one for nginx, and a target that starts them all',
    render: renderSystemdUnits,
    // nginx runs with the folder as its prefix: its log and temp folders must exist.
    prepare: (files, { dir }) => {
      if (Object.keys(files).some((f) => f.endsWith('nginx.conf'))) prepareNginxDirs(homeAt(dir))
    },
    startHint: ({ dir, name }) =>
      `systemctl --user link ${dir}/*.service ${dir}/${name}.target && systemctl --user start ${name}.target`,
  },
  kubernetes: {
    summary: 'Kubernetes objects: per server a Deployment and a Service, an Ingress, Jobs (--mode pod: one Deployment)',
    aliases: ['k8s'],
    modes: KUBERNETES_MODES,
    // pod mode carries the config file as written into the pod.
    render: (plan, { name, mode }) =>
      renderKubernetes(plan, {
        name,
        mode: mode as KubernetesMode | undefined,
        ...(mode === 'pod' ? { configText: fs.readFileSync(plan.file, 'utf8') } : {}),
      }),
    startHint: ({ dir, name }) => `kubectl apply -f ${dir}/${name}.yaml`,
  },
  compose: {
    summary: 'a docker compose project: a service per server instance and the generated nginx in front',
    render: (plan, opts) => renderCompose(plan, opts, readEnvFiles(plan)),
    startHint: ({ dir, name }) => `docker compose -p ${name} -f ${dir}/compose.yaml up`,
  },
}
