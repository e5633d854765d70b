// The page: a textarea over an overlay that draws the squiggles, the
// diagnostics list, the timeline and the simulate table, recomputed as the
// program is edited. Everything it knows comes from analyse() (the core's
// compilation); the page only places it.

import { builtinScheduleNames } from '../compiler/index.ts';
import samples from 'virtual:pipec-samples';
import { analyse, type Analysis, type LocatedDiagnostic } from './analyse.ts';
import { decodeFragment, encodeFragment } from './share.ts';

const DEFAULT_SAMPLE = 'mlp.pipe';
// Long enough to skip work between keystrokes, short enough to feel live.
const EDIT_DELAY_MS = 150;

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const code = element<HTMLTextAreaElement>('code');
const overlay = element<HTMLPreElement>('overlay');
const diagnosticsList = element<HTMLUListElement>('diagnostics');
const sampleSelect = element<HTMLSelectElement>('sample');
const scheduleSelect = element<HTMLSelectElement>('schedule');
const timeline = element<HTMLDivElement>('timeline');
const title = element<HTMLParagraphElement>('title');
const note = element<HTMLParagraphElement>('note');
const deviceRows = element<HTMLTableElement>('devices').tBodies[0];
const shareStatus = element<HTMLSpanElement>('share-status');

const sampleNames = Object.keys(samples).filter((name) => name.endsWith('.pipe')).sort();
for (const name of sampleNames) sampleSelect.add(new Option(name, name));
for (const name of builtinScheduleNames()) scheduleSelect.add(new Option(name, name));

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The program's text with each located diagnostic's span wrapped in a squiggle. */
function overlayHtml(text: string, diagnostics: readonly LocatedDiagnostic[]): string {
  // Spans may nest or overlap; the first (leftmost) one wins where they do.
  const marks = diagnostics
    .filter((d) => d.start !== undefined)
    .map((d) => ({ start: d.start!, end: Math.max(d.end!, d.start! + 1), severity: d.severity, code: d.code }))
    .sort((a, b) => a.start - b.start);
  let html = '';
  let at = 0;
  for (const mark of marks) {
    if (mark.start < at) continue;
    // A span at a line end or past the text (a missing token) underlines one blank.
    const covered = text.slice(mark.start, mark.end).replace(/\n[\s\S]*$/, '');
    html += escapeHtml(text.slice(at, mark.start));
    html += `<span class="squiggle ${mark.severity}" data-code="${mark.code}">${escapeHtml(covered || ' ')}</span>`;
    at = mark.start + covered.length;
  }
  // A trailing newline keeps the overlay as tall as the textarea's content.
  return `${html}${escapeHtml(text.slice(at))}\n`;
}

function showDiagnostics(diagnostics: readonly LocatedDiagnostic[]): void {
  diagnosticsList.replaceChildren();
  if (diagnostics.length === 0) {
    const clean = document.createElement('li');
    clean.className = 'clean';
    clean.textContent = 'no problems';
    diagnosticsList.append(clean);
    return;
  }
  for (const diagnostic of diagnostics) {
    const item = document.createElement('li');
    item.className = `diagnostic ${diagnostic.severity}`;
    item.dataset.code = diagnostic.code;
    const head = document.createElement('div');
    head.innerHTML = `${escapeHtml(diagnostic.location)}: ${diagnostic.severity} <span class="code">${diagnostic.code}</span>: `;
    const message = document.createElement('span');
    message.className = 'message';
    message.textContent = diagnostic.message;
    head.append(message);
    item.append(head);
    if (diagnostic.hint) {
      const hint = document.createElement('div');
      hint.className = 'hint';
      hint.textContent = `hint: ${diagnostic.hint}`;
      item.append(hint);
    }
    if (diagnostic.start !== undefined) {
      item.addEventListener('click', () => {
        code.focus();
        code.setSelectionRange(diagnostic.start!, diagnostic.end!);
      });
    }
    diagnosticsList.append(item);
  }
}

let lastTitle = '';
function showResults(analysis: Analysis): void {
  note.hidden = analysis.note === undefined;
  note.textContent = analysis.note ?? '';
  if (analysis.svg === undefined) {
    // Keep the last picture that compiled, dimmed, while the program has errors.
    timeline.classList.add('stale');
    if (timeline.childElementCount > 0) title.textContent = `until the errors are fixed, the last version that compiled: ${lastTitle}`;
    return;
  }
  timeline.classList.remove('stale');
  lastTitle = `${analysis.title} — makespan ${analysis.makespan}, bubble ${analysis.bubble}`;
  title.textContent = lastTitle;
  timeline.innerHTML = analysis.svg;
  deviceRows.replaceChildren();
  for (const row of analysis.devices) {
    const tr = deviceRows.insertRow();
    for (const value of [row.device, row.busy, row.idle, row.bubble, row.peak, row.capacity ?? '—']) tr.insertCell().textContent = value;
    if (row.overCapacity) tr.cells[4].className = 'over';
  }
}

async function update(): Promise<void> {
  const text = code.value;
  const schedule = scheduleSelect.value || undefined;
  const analysis = analyse(text, { schedule, library: samples });
  overlay.innerHTML = overlayHtml(text, analysis.diagnostics);
  showDiagnostics(analysis.diagnostics);
  showResults(analysis);
  history.replaceState(null, '', `#${await encodeFragment({ text, ...(schedule ? { schedule } : {}) })}`);
  document.body.dataset.state = 'ready';
}

let pending: ReturnType<typeof setTimeout> | undefined;
function scheduleUpdate(): void {
  document.body.dataset.state = 'pending';
  clearTimeout(pending);
  pending = setTimeout(() => void update(), EDIT_DELAY_MS);
}

code.addEventListener('input', scheduleUpdate);
code.addEventListener('scroll', () => {
  overlay.scrollTop = code.scrollTop;
  overlay.scrollLeft = code.scrollLeft;
});
code.addEventListener('keydown', (event) => {
  if (event.key !== 'Tab' || event.shiftKey) return;
  event.preventDefault();
  code.setRangeText('  ', code.selectionStart, code.selectionEnd, 'end');
  scheduleUpdate();
});
sampleSelect.addEventListener('change', () => {
  code.value = samples[sampleSelect.value];
  scheduleSelect.value = '';
  void update();
});
scheduleSelect.addEventListener('change', () => void update());
element<HTMLButtonElement>('share').addEventListener('click', async () => {
  await update();
  try {
    await navigator.clipboard.writeText(location.href);
    shareStatus.textContent = 'link copied';
  } catch {
    shareStatus.textContent = 'copy the address bar: it holds the program';
  }
});

const shared = await decodeFragment(location.hash);
code.value = shared?.text ?? samples[DEFAULT_SAMPLE];
sampleSelect.value = shared === undefined ? DEFAULT_SAMPLE : '';
if (shared?.schedule && builtinScheduleNames().includes(shared.schedule)) scheduleSelect.value = shared.schedule;
await update();
