import { readFile } from 'node:fs/promises';

/** Reading circom .sym files: the linker (src/graph/link) maps gadget signals through them. */

/** One line of a circom .sym file. */
export interface SymbolEntry {
  /** Signal id before simplification. */
  label: number;
  /** Witness index, or -1 if --O2 removed the signal (it is a linear combination of surviving wires). */
  varIdx: number;
  /** Index of the component instance that declares the signal. */
  component: number;
  /** Full name, e.g. main.rq0[3].div.qBits[2]. */
  name: string;
}

/** Every line of a .sym file, in file order (the audit needs the component index and the removed signals too). */
export async function loadSymbolTable(symPath: string): Promise<SymbolEntry[]> {
  const out: SymbolEntry[] = [];
  for (const line of (await readFile(symPath, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    const parts = line.split(',');
    if (parts.length < 4) throw new Error(`malformed .sym line: ${line}`);
    out.push({ label: Number(parts[0]), varIdx: Number(parts[1]), component: Number(parts[2]), name: parts.slice(3).join(',') });
  }
  return out;
}
