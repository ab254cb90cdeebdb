export const WEB_VENDOR: string;
export const WEB_CORE: string;
export function buildWebVerifier(options?: { outfile?: string }): Promise<{ file: string; inputs: string[] }>;
