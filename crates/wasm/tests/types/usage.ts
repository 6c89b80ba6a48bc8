// Compiled with `tsc --noEmit --strict` by scripts/test.sh: the package's declarations
// (dpseg.d.ts) describe its whole public API as a web developer uses it.
import { DpsegError, Engine, load, open, version } from '../../pkg/dpseg.js';
import { lint, loadTools, plan, tools } from '../../pkg/dpseg_tools.js';
import type { CampaignDocument, CampaignInfo, CampaignList, ErrorCode, Estimates, Explanation, Memberships, SentRequest, Status } from '../../pkg/dpseg.js';
import type { Plan } from '../../pkg/dpseg_tools.js';
// The wire golden files must be values of the declared types (tests/spec/wire/README.md).
import documentFile from '../../../../tests/spec/wire/campaign-document.json';
import listFile from '../../../../tests/spec/wire/campaign-list.json';
import estimatesFile from '../../../../tests/spec/wire/estimates.json';
import planFile from '../../../../tests/spec/wire/plan.json';
const goldenDocument: CampaignDocument = documentFile;
const goldenList: CampaignList = listFile;
const goldenEstimates: Estimates = estimatesFile;
const goldenPlan: Plan = planFile;
void [goldenDocument, goldenList, goldenEstimates, goldenPlan];
import { connectConsentMode, connectTcf } from '../../pkg/dpseg_consent.js';

export async function embed(collector: string): Promise<void> {
  await load();
  await loadTools();
  const v: string = await version();
  const dpseg: Engine = await open({ collector, epsilonReportMax: 1, epsilonWindowMax: 4, honourGpc: true });
  const info: CampaignInfo = await dpseg.loadCampaign('spring-2027');
  const added: CampaignInfo = await dpseg.addCampaign({ id: 'x', config_id: 'y' });
  dpseg.set('budget', 150);
  dpseg.set('interests', ['hiking']);
  dpseg.unset('budget');
  dpseg.track('product_view', { category: 'tents', price: 329 });
  dpseg.track('purchase', { amount: 80 }, new Date());
  const m: Memberships = dpseg.memberships(info.id);
  const flat: Uint16Array = dpseg.evaluate(info.id);
  const inIt: boolean = dpseg.inSegment(info.id, info.segments[0].id);
  const off: () => void = dpseg.on('error', (e: { code: ErrorCode; message: string }) => console.log(e.code, e.message));
  off();
  dpseg.on('change', (c) => console.log(c.reason));
  dpseg.on('report', (r) => console.log(r.campaign, r.status));
  const stopTcf = connectTcf(dpseg, { purposes: { measurement: [1, 8, 9] } });
  if (stopTcf) stopTcf();
  connectConsentMode(dpseg, { types: { measurement: ['analytics_storage'] } })();
  const offline: Engine = await open({ collector, timeout: 1500, reportWithoutStorage: false, debug: true, bridgeOrigins: ['https://app.example'] });
  const why: Explanation = await dpseg.explain(info.id, 'hikers');
  const reasons: string[] = why.reasons.map((r) => r.text);
  dpseg.setConsent('measurement', true);
  const allowed: boolean = dpseg.allowed('measurement') && !dpseg.gpc();
  await dpseg.tick();
  await dpseg.sendNow();
  await dpseg.flush();
  const sent: SentRequest[] = dpseg.sent();
  const status: Status = dpseg.status();
  const spent: number = (await dpseg.budget()).spent;
  const copy = await dpseg.export();
  const copied: [string, number, SentRequest[]] = [copy.format, copy.charged, copy.sent];
  const pending: number = dpseg.pending().length;
  const stored = dpseg.profile().attributes;
  const map = dpseg.dataMap().attributes;
  const findings = lint({ attributes: {} }, { id: 'c' }, { epsilonMax: 2, devices: 1000 });
  const p: number = plan({ id: 'c' }, { devices: 1000, rate: 0.05, epsilon: 1 }).segments.hikers.half_width_95;
  const tree = tools.parseRule('budget > 1');
  const printed: string = tools.printRule({ rule: 'budget>1' });
  dpseg.forget();
  dpseg.close();
  try {
    dpseg.set('budjet', 1);
  } catch (e) {
    if (e instanceof DpsegError) {
      const code: string = e.code;
      void code;
    }
  }
  const onDevice: Memberships = tools.evaluateOnDevice({ attributes: {} }, { id: "c" }, {}, "2026-11-24T00:00:00Z");
  void [v, added, onDevice, m, flat, inIt, reasons, allowed, sent, status, spent, copied, pending, stored, map, findings, p, tree, printed];
}
