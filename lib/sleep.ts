// A promise that resolves after ms milliseconds (polling loops await it between checks).
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
