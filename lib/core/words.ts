// "1 process", "2 processes": counts in messages read as English.
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`
}
