import { parseServiceChain } from './names.js';

// Maps nft's error locations (`FILE:LINE:COL-COL: Error: ...`, FILE being /dev/stdin or the named pipe nftlb wrote
// the script to) back to the script nftlb sent, and names the chain or map (and so the service) the line belongs to,
// so the user sees the message with the line it refers to.

const LOCATION = /^\/[^\s:]*:(\d+):(\d+)(?:-(\d+))?: (.*)$/;
const BLOCK = /^\s*(chain|map|set) (\S+) \{\s*$/;

// Rewrites nft's stderr: each located error becomes `script line N (in <block>): <message>` followed by the line text
// and a caret under the columns; other lines pass through unchanged.
export function explainNftError(stderr: string, script: string): string {
  const lines = script.split('\n');
  const out: string[] = [];
  const errLines = stderr.split('\n');
  for (let i = 0; i < errLines.length; i++) {
    const e = errLines[i] ?? '';
    const m = LOCATION.exec(e);
    if (m === null) {
      if (e.trim() !== '') out.push(e);
      continue;
    }
    const n = Number(m[1]);
    const first = Number(m[2]);
    const last = m[3] === undefined ? first : Number(m[3]);
    if (n < 1 || n > lines.length || (n === lines.length && lines[n - 1] === '')) {
      // Not a line nftlb sent (a wrapper around nft added it): keep nft's own echo of it.
      out.push(`line ${n}, beyond the script nftlb sent: ${m[4] ?? ''}`);
      continue;
    }
    const text = lines[n - 1] ?? '';
    const where = enclosingBlock(lines, n);
    out.push(`script line ${n}${where ? ` (${where})` : ''}: ${m[4] ?? ''}`);
    out.push(`  ${String(n).padStart(5)} | ${text.replace(/\t/g, ' ')}`);
    out.push(`  ${' '.repeat(5)} | ${' '.repeat(Math.max(0, first - 1))}${'^'.repeat(Math.max(1, last - first + 1))}`);
    // nft echoes the line and a marker line itself; skip them, the lines above say the same.
    if ((errLines[i + 1] ?? '').trim() === text.trim()) i++;
    if (/^\s*[\^~]+\s*$/.test(errLines[i + 1] ?? '')) i++;
  }
  return out.join('\n');
}

// The chain, map or set declaration that encloses script line n (1-based), in the user's terms when it is a service.
export function enclosingBlock(lines: readonly string[], n: number): string | undefined {
  for (let i = Math.min(n, lines.length) - 1; i >= 0; i--) {
    const m = BLOCK.exec(lines[i] ?? '');
    if (m === null) continue;
    const name = m[2] ?? '';
    const svc = parseServiceChain(name);
    return svc ? `chain ${name}, service ${svc.service} IPv${svc.family}` : `${m[1]} ${name}`;
  }
  return undefined;
}
