// Sizes in the config (max_memory): a number of bytes, or a number with a K, M or G suffix (powers of 1024).
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }

// Bytes, or undefined when the value is not a size (a positive whole number of bytes, or "512M", "1.5G", "800K").
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = SIZE_PATTERN.exec(value.trim())
  if (!match) return undefined
  const bytes = Math.round(Number(match[1]) * UNITS[match[2].toUpperCase()])
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined
}

// A size as people write it: 212M, 1.5G, 800K; whole numbers without a fraction.
export function formatSize(bytes: number): string {
  for (const unit of ['G', 'M', 'K'] as const) {
    const scaled = bytes / UNITS[unit]
    if (scaled >= 1)
      return `${Number.isInteger(scaled) || scaled >= 100 ? Math.round(scaled) : scaled.toFixed(1)}${unit}`
  }
  return `${bytes}B`
}
