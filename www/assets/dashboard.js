// The marketer's dashboard: campaigns, estimates with 95% intervals, report counts and a time
// series per epoch, the mechanism and ε in words, the lint review, and a planner. Charts are
// Chart.js with the error-bars plugin; lint and planner run in the browser package.

import { loadTools, lint, plan } from '/dpseg/dpseg_tools.js';

const { Chart, ChartErrorBars } = window;
Chart.register(ChartErrorBars.BarWithErrorBarsController, ChartErrorBars.BarWithErrorBar);

const $ = (sel) => document.querySelector(sel);
const num = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const GREEN = '#2f6b4f';
const GREY = '#a9b5ae';
const AMBER = '#c98a1b';

let token = sessionStorage.getItem('dpseg-token');
let schema = null;
const docs = new Map();
let estimates = null;
const charts = {};

async function api(path, auth = false) {
  const res = await fetch(path, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
  if (res.status === 401) throw Object.assign(new Error('The token was not accepted.'), { status: 401 });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function chart(id, config) {
  charts[id]?.destroy();
  charts[id] = new Chart($(`#${id}`), { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options } });
}

/** True when the interval includes zero: the data cannot tell the count from nothing. */
const nearZero = (s) => s.ci_low <= 0;

/** The share of the estimate the 95% interval may be off by, past which an estimate is marked low-precision. */
const LOW_PRECISION = 0.5;

/** True when the interval's half-width is more than LOW_PRECISION of the estimate. */
const lowPrecision = (s) => !nearZero(s) && (s.ci_high - s.ci_low) / 2 > LOW_PRECISION * s.clamped;

function estimateText(s) {
  if (nearZero(s)) return `<span class="muted">indistinguishable from zero</span> (at most ${num.format(s.ci_high)})`;
  const flag = lowPrecision(s) ? ' <span class="pill warn">low precision</span>' : '';
  return `<span class="stat">${num.format(s.clamped)}</span>${flag}`;
}

/** The estimate as a share of the epoch's reporting visitors (each device reports once). */
const shareText = (s, reports) => (reports > 0 ? `${((100 * Math.max(0, s.clamped)) / reports).toFixed(1)}% of reporting visitors` : '—');

/** The current epoch's estimates table as CSV, for a spreadsheet. */
function estimatesCsv(doc, e) {
  const cell = (v) => `"${String(v).replaceAll('"', '""')}"`;
  const rows = [['campaign', 'epoch', 'segment', 'description', 'estimate', 'ci_low', 'ci_high', 'reports', 'epoch_reports'].map(cell).join(',')];
  for (const s of doc.segments) {
    const x = e.segments[s.id];
    rows.push([doc.id, e.epoch, s.id, s.description ?? '', x.clamped, Math.max(0, x.ci_low), x.ci_high, x.reports, e.reports].map(cell).join(','));
  }
  return `${rows.join('\r\n')}\r\n`;
}

const intervalText = (s) => `${num.format(Math.max(0, s.ci_low))} – ${num.format(s.ci_high)}`;

/** True while `epoch` is still running: its reports are still coming in. */
const inProgress = (doc, epoch) => Math.floor(Date.now() / 1000 / doc.epoch_secs) === epoch;

/** An epoch by its span: "week of 26 Nov", "1 Dec", or a start time; "(in progress)" while it runs. */
function epochLabel(doc, epoch) {
  const d = new Date(epoch * doc.epoch_secs * 1000);
  const day = d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
  const span =
    doc.epoch_secs === 604800 ? `week of ${day}` : doc.epoch_secs === 86400 ? day : d.toISOString().slice(0, 16).replace('T', ' ');
  return inProgress(doc, epoch) ? `${span} (in progress)` : span;
}

function epochWords(secs) {
  if (secs % 604800 === 0) return secs === 604800 ? 'week' : `${secs / 604800} weeks`;
  if (secs % 86400 === 0) return secs === 86400 ? 'day' : `${secs / 86400} days`;
  if (secs % 3600 === 0) return secs === 3600 ? 'hour' : `${secs / 3600} hours`;
  return `${secs} seconds`;
}

const ORACLE_WORDS = {
  grr: 'randomized response',
  oue: 'optimized unary encoding',
  ss: 'subset selection',
  olh: 'optimized local hashing',
};

/** A realised ε for people: rounded up to 3 decimals, so the figure shown is never below it. */
function epsUp(x) {
  return String(Math.ceil(x * 1000 - 1e-6) / 1000);
}

function renderMechanism(doc) {
  const m = doc.mechanism;
  const segs = doc.segments.length;
  const groups = doc.groups.length;
  const oracles = [...new Set(m.items.map((i) => ORACLE_WORDS[i.oracle]))].join(', ');
  $('#mechanism').innerHTML = `Each device sends at most one report per ${esc(epochWords(doc.epoch_secs))}, whether or not the visitor is in any segment.
    A report answers <strong>${m.per_report}</strong> of the campaign's ${m.items.length} questions
    (${segs} segment${segs === 1 ? '' : 's'}, ${groups} group${groups === 1 ? '' : 's'}), picked at random, each answer deliberately noisy
    (${esc(oracles)}), so no report reveals what a visitor is. Privacy loss per report: at most <strong>ε = ${epsUp(m.eps_report)}</strong>;
    a visitor whose answers do not change stays within <strong>ε = ${epsUp(m.eps_lifetime)}</strong> however many reports they send.
    Counts below are estimates from many such reports, with 95% intervals.`;
}

function renderLint(doc) {
  let findings;
  try {
    findings = lint(schema, doc);
  } catch (e) {
    $('#lint').innerHTML = `<li class="no">${esc(e.message)}</li>`;
    return;
  }
  // One line per kind of finding; the segments it concerns fold under it.
  const kinds = new Map();
  for (const f of findings) {
    const k = `${f.severity} ${f.code}`;
    if (!kinds.has(k)) kinds.set(k, []);
    kinds.get(k).push(f);
  }
  $('#lint').innerHTML = kinds.size
    ? [...kinds.values()].map((fs) => {
        const f = fs[0];
        const where = fs.filter((x) => x.segment).map((x) => x.segment);
        const head = `<span class="pill ${f.severity === 'error' ? 'out' : ''}">${esc(f.severity)}</span> <code>${esc(f.code)}</code>${fs.length > 1 ? ` ×${fs.length}` : ''}: ${esc(f.message)}`;
        return fs.length > 1
          ? `<li><details><summary>${head}</summary><p class="muted">In: ${where.map(esc).join(', ')}</p></details></li>`
          : `<li>${head}</li>`;
      }).join('')
    : '<li class="ok">No findings: the campaign passes the review.</li>';
}

function renderEpoch(doc, epoch) {
  const e = estimates.epochs.find((x) => x.epoch === epoch);
  if (!e) {
    $('#epoch-summary').textContent = 'No reports yet.';
    $('#segments-table tbody').innerHTML = '';
    $('#groups').innerHTML = '';
    charts['segments-chart']?.destroy();
    return;
  }
  $('#epoch-summary').textContent = `${epochLabel(doc, epoch)}: ${num.format(e.reports)} report${e.reports === 1 ? '' : 's'}. Grey bars: the interval includes zero; amber: low precision (the 95% interval is wider than ±${LOW_PRECISION * 100}% of the estimate).`;
  $('#csv').onclick = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([estimatesCsv(doc, e)], { type: 'text/csv' }));
    a.download = `${doc.id}-epoch-${e.epoch}.csv`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  const ids = doc.segments.map((s) => s.id);
  const stats = ids.map((id) => e.segments[id]);
  chart('segments-chart', {
    type: 'barWithErrorBars',
    data: {
      labels: ids,
      datasets: [{
        label: 'estimated visitors',
        data: stats.map((s) => ({ y: Math.max(0, s.clamped), yMin: Math.max(0, s.ci_low), yMax: s.ci_high })),
        backgroundColor: stats.map((s) => (nearZero(s) ? GREY : lowPrecision(s) ? AMBER : GREEN)),
      }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
  $('#segments-table tbody').innerHTML = doc.segments
    .map((seg, i) => `<tr><th scope="row">${esc(seg.id)}${seg.description ? `<div class="muted">${esc(seg.description)}</div>` : ''}</th><td>${estimateText(stats[i])}</td><td>${intervalText(stats[i])}</td><td>${shareText(stats[i], e.reports)}</td><td>${num.format(stats[i].reports)}</td></tr>`)
    .join('');

  $('#groups').innerHTML = doc.groups.map((g, gi) => `<h3>${esc(g.id)}</h3>
    <div class="chart-box"><canvas id="group-${gi}" role="img" aria-label="Estimated visitors per case of ${esc(g.id)} with 95% error bars"></canvas></div>
    <div class="table-wrap"><table><thead><tr><th scope="col">Case</th><th scope="col">Estimate</th><th scope="col">95% interval</th></tr></thead><tbody>
    ${g.cases.map((c) => { const s = e.groups[g.id][c.id]; return `<tr><th scope="row">${esc(c.id)}</th><td>${estimateText(s)}</td><td>${intervalText(s)}</td></tr>`; }).join('')}
    </tbody></table></div>`).join('');
  doc.groups.forEach((g, gi) => {
    const cs = g.cases.map((c) => e.groups[g.id][c.id]);
    chart(`group-${gi}`, {
      type: 'barWithErrorBars',
      data: {
        labels: g.cases.map((c) => c.id),
        datasets: [{ label: g.id, data: cs.map((s) => ({ y: Math.max(0, s.clamped), yMin: Math.max(0, s.ci_low), yMax: s.ci_high })), backgroundColor: cs.map((s) => (nearZero(s) ? GREY : lowPrecision(s) ? AMBER : GREEN)) }],
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
    });
  });
}

/**
 * The change between the last two finished epochs, in words, called a change only when it is
 * larger than the noise: the difference against 1.96 standard errors of the difference (the
 * two epochs' reports are independent).
 */
function changeWords(doc, id, epochs) {
  const done = epochs.filter((e) => !inProgress(doc, e.epoch));
  if (done.length < 2) return 'Two finished epochs are needed to tell a change.';
  const [a, b] = done.slice(-2).map((e) => e.segments[id]);
  const diff = b.clamped - a.clamped;
  const noise = 1.96 * Math.hypot(a.std, b.std);
  const span = `${epochLabel(doc, done.at(-2).epoch)} to ${epochLabel(doc, done.at(-1).epoch)}`;
  if (Math.abs(diff) <= noise) {
    return `${id}, ${span}: no change larger than the noise (${num.format(a.clamped)} then ${num.format(b.clamped)}, ±${num.format(noise)}).`;
  }
  return `${id}, ${span}: ${diff > 0 ? 'up' : 'down'} from ${num.format(a.clamped)} to ${num.format(b.clamped)}, a change larger than the noise (±${num.format(noise)}).`;
}

function renderSeries(doc) {
  const id = $('#series-segment').value;
  const epochs = estimates.epochs;
  $('#series-change').textContent = changeWords(doc, id, epochs);
  const labels = epochs.map((e) => epochLabel(doc, e.epoch) + (inProgress(doc, e.epoch) ? `, ${num.format(e.reports)} reports so far` : ''));
  const s = epochs.map((e) => e.segments[id]);
  // The epoch still running is drawn dashed and grey: its few reports so far are not a drop.
  const partial = (i) => inProgress(doc, epochs[i]?.epoch);
  chart('series-chart', {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: '95% low', data: s.map((x) => Math.max(0, x.ci_low)), borderColor: 'transparent', pointRadius: 0, fill: false },
        { label: '95% interval', data: s.map((x) => x.ci_high), borderColor: 'transparent', backgroundColor: 'rgba(47,107,79,0.18)', pointRadius: 0, fill: '-1' },
        {
          label: `estimate: ${id}`,
          data: s.map((x) => Math.max(0, x.clamped)),
          borderColor: GREEN,
          backgroundColor: s.map((_, i) => (partial(i) ? GREY : GREEN)),
          segment: { borderDash: (ctx) => (partial(ctx.p1DataIndex) ? [6, 4] : undefined), borderColor: (ctx) => (partial(ctx.p1DataIndex) ? GREY : GREEN) },
        },
      ],
    },
    options: { scales: { y: { beginAtZero: true } }, plugins: { legend: { labels: { filter: (item) => item.text !== '95% low' } } } },
  });
  chart('reports-chart', {
    type: 'bar',
    data: { labels, datasets: [{ label: 'reports', data: epochs.map((e) => e.reports), backgroundColor: epochs.map((_, i) => (partial(i) ? GREY : GREEN)) }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
}

function renderPlan(doc) {
  // An invalid field answers with what is wrong, never with the last answer.
  const bad = ['#plan-devices', '#plan-epsilon', '#plan-rate'].map((id) => $(id)).find((el) => !el.checkValidity());
  if (bad) {
    $('#plan-answer').textContent = `Check “${bad.labels?.[0]?.textContent.trim() ?? bad.id}”: ${bad.validationMessage}`;
    $('#plan-answer').dataset.state = 'invalid';
    return;
  }
  delete $('#plan-answer').dataset.state;
  const devices = Number($('#plan-devices').value);
  const epsilon = Number($('#plan-epsilon').value);
  const rate = Number($('#plan-rate').value) / 100;
  try {
    const p = plan(doc, { devices, rate, epsilon });
    const seg = Object.values(p.segments)[0];
    const lines = [];
    if (seg) lines.push(`With ${num.format(devices)} devices an epoch at ε = ${epsilon}, a ${(rate * 100).toFixed(1)}% segment (${num.format(devices * rate)} visitors) is estimated <strong>±${num.format(seg.half_width_95)}</strong> (95%).`);
    for (const [id, cases] of Object.entries(p.groups)) {
      const it = Object.values(cases)[0];
      if (it) lines.push(`A ${(rate * 100).toFixed(1)}% case of “${esc(id)}”: ±${num.format(it.half_width_95)}.`);
    }
    $('#plan-answer').innerHTML = lines.join(' ');
  } catch (e) {
    $('#plan-answer').textContent = e.message;
  }
}

async function showCampaign(id) {
  delete document.body.dataset.campaign;
  const doc = docs.get(id);
  renderMechanism(doc);
  renderLint(doc);
  estimates = await api(`/v1/campaigns/${encodeURIComponent(id)}/estimates`, true);
  const epochs = estimates.epochs.map((e) => e.epoch).sort((a, b) => b - a);
  $('#epoch').innerHTML = epochs.map((e) => `<option value="${e}">${esc(epochLabel(doc, e))}</option>`).join('');
  $('#series-segment').innerHTML = doc.segments.map((s) => `<option>${esc(s.id)}</option>`).join('');
  $('#plan-epsilon').value = doc.epsilon;
  // The latest epoch with a meaningful share of reports: the current one may have just begun.
  const most = Math.max(0, ...estimates.epochs.map((e) => e.reports));
  const shown = epochs.find((ep) => estimates.epochs.find((e) => e.epoch === ep).reports >= most / 10) ?? epochs[0];
  $('#epoch').value = String(shown);
  renderEpoch(doc, shown);
  if (estimates.epochs.length) renderSeries(doc);
  renderPlan(doc);
  document.body.dataset.campaign = id; // shown and settled (the end-to-end tests wait on it)
}

async function start() {
  await loadTools();
  schema = await api('/v1/schema');
  const { campaigns } = await api('/v1/campaigns');
  for (const c of campaigns) docs.set(c.id, await api(`/v1/campaigns/${encodeURIComponent(c.id)}`));
  // Checks the token before showing anything.
  await api(`/v1/campaigns/${encodeURIComponent(campaigns[0].id)}/estimates?epoch=0`, true);
  $('#campaign').innerHTML = campaigns.map((c) => `<option value="${esc(c.id)}">${esc(c.id)}</option>`).join('');
  $('#sign-in').hidden = true;
  $('#app').hidden = false;
  $('#sign-out').hidden = false;
  await showCampaign(campaigns[0].id);
}

$('#sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  token = $('#token').value.trim();
  try {
    await start();
    sessionStorage.setItem('dpseg-token', token);
    $('#sign-in-error').textContent = '';
  } catch (e) {
    $('#sign-in-error').textContent = e.message;
  }
});
$('#sign-out').addEventListener('click', () => {
  sessionStorage.removeItem('dpseg-token');
  location.reload();
});
$('#campaign').addEventListener('change', (e) => showCampaign(e.target.value));
$('#epoch').addEventListener('change', (e) => renderEpoch(docs.get($('#campaign').value), Number(e.target.value)));
$('#series-segment').addEventListener('change', () => renderSeries(docs.get($('#campaign').value)));
$('#plan-form').addEventListener('submit', (event) => {
  event.preventDefault();
  renderPlan(docs.get($('#campaign').value));
});
// Answer as the marketer types, so a stale answer never stands next to a changed question.
$('#plan-form').addEventListener('input', () => renderPlan(docs.get($('#campaign').value)));

if (token) start().catch(() => sessionStorage.removeItem('dpseg-token'));
