#!/usr/bin/env node
// Installed entry: runs the TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api'

register()
await import('../scripts/backend-manager.ts')
