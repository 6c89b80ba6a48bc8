// Translates dpseg rules (their JSON tree, from tools.parseRule) into JsonLogic, for the
// benchmark against json-logic-js and json-logic-engine. The data the JsonLogic rules read is
// prepared in their favour: times are Unix seconds, events are grouped by name with their
// properties flattened, and the evaluation time is folded into the rules as constants.
//
// The translation keeps dpseg's meaning on the benchmark campaign (bench.js checks that every
// segment agrees before timing): a comparison with a missing value is false, and an empty
// window has no average, minimum or maximum.

const UNIT_SECS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

function durationSecs(text) {
  const m = /^(\d+)([smhdw])$/.exec(text);
  if (!m) throw new Error(`duration ${text}`);
  return Number(m[1]) * UNIT_SECS[m[2]];
}

const timeSecs = (text) => Date.parse(text) / 1000;

function literal(l) {
  if ('number' in l) return l.number;
  if ('string' in l) return l.string;
  if ('bool' in l) return l.bool;
  if ('time' in l) return timeSecs(l.time);
  throw new Error(`literal ${JSON.stringify(l)}`);
}

const notNull = (x) => ({ '!==': [x, null] });

/**
 * `rule` (dpseg JSON tree) as JsonLogic, for evaluation at `now` (Unix seconds);
 * `segment("id")` is inlined from `segmentTree(id)` (JsonLogic has no references).
 */
export function toJsonLogic(rule, now, segmentTree = () => null) {
  const setVar = (node) => {
    if (!node.path) throw new Error('sets are attributes here');
    return { var: [node.path.join('.'), []] };
  };

  // `inEvent`: a `where` filter, where paths are the event's properties.
  function t(node, inEvent = false) {
    const [kind] = Object.keys(node);
    const v = node[kind];
    switch (kind) {
      case 'number':
      case 'string':
      case 'bool':
        return v;
      case 'time':
        return timeSecs(v);
      case 'path':
        return { var: v.join('.') };
      case 'and':
        return { and: v.map((x) => t(x, inEvent)) };
      case 'or':
        return { or: v.map((x) => t(x, inEvent)) };
      case 'not':
        return { '!': t(v, inEvent) };
      case 'compare': {
        const op = { '==': '===', '!=': '!==' }[v.op] ?? v.op;
        const l = t(v.left, inEvent);
        const r = t(v.right, inEvent);
        const cmp = { [op]: [l, r] };
        // A missing value compares false; literals are never missing.
        const guards = [v.left, v.right].filter((x) => !('number' in x || 'string' in x || 'bool' in x || 'time' in x));
        return guards.length === 0 ? cmp : { and: [...guards.map((g) => notNull(t(g, inEvent))), cmp] };
      }
      case 'in':
        return { and: [notNull(t(v.value, inEvent)), { in: [t(v.value, inEvent), v.list.map(literal)] }] };
      case 'not_in':
        return { and: [notNull(t(v.value, inEvent)), { '!': { in: [t(v.value, inEvent), v.list.map(literal)] } }] };
      case 'has':
        return { in: [t(v.item, inEvent), setVar(v.value)] };
      case 'has_any':
        return { some: [setVar(v.value), { in: [{ var: '' }, v.list.map(literal)] }] };
      case 'has_all':
        return { and: v.list.map((l) => ({ in: [literal(l), setVar(v.value)] })) };
      case 'text': {
        const x = t(v.value, inEvent);
        const n = v.pattern.length;
        if (v.op === 'contains') return { and: [notNull(x), { in: [v.pattern, x] }] };
        if (v.op === 'starts_with') return { and: [notNull(x), { '===': [{ substr: [x, 0, n] }, v.pattern] }] };
        return { and: [notNull(x), { '===': [{ substr: [x, -n] }, v.pattern] }] };
      }
      case 'exists':
        return notNull(t(v, inEvent));
      case 'lower':
        return { lower: t(v, inEvent) };
      case 'days_since':
        return { if: [notNull(t(v, inEvent)), { '/': [{ '-': [now, t(v, inEvent)] }, 86400] }, null] };
      case 'within': {
        const x = t(v.value, inEvent);
        return { and: [notNull(x), { '>=': [x, now - durationSecs(v.duration)] }, { '<=': [x, now] }] };
      }
      case 'before':
        return { and: [notNull(t(v.value, inEvent)), { '<': [t(v.value, inEvent), timeSecs(v.time)] }] };
      case 'after':
        return { and: [notNull(t(v.value, inEvent)), { '>': [t(v.value, inEvent), timeSecs(v.time)] }] };
      case 'count':
        return { reduce: [events(v, true), { '+': [{ var: 'accumulator' }, 1] }, 0] };
      case 'any':
        return { some: [{ var: [`events.${v.event}`, []] }, windowed(v, true)] };
      case 'aggregate':
        return aggregate(v);
      case 'last':
      case 'first': {
        const better = kind === 'last' ? '>' : '<';
        return {
          reduce: [
            events(v, false),
            { if: [{ or: [{ '===': [{ var: 'accumulator' }, null] }, { [better]: [{ var: 'current.at' }, { var: 'accumulator' }] }] }, { var: 'current.at' }, { var: 'accumulator' }] },
            null,
          ],
        };
      }
      case 'segment': {
        const tree = segmentTree(v);
        if (!tree) throw new Error(`segment ${v} unknown`);
        return t(tree, inEvent);
      }
      default:
        throw new Error(`no JsonLogic for ${kind}`);
    }
  }

  // The condition an event must meet: in the window (or up to now) and the `where` filter.
  function windowed(v, hasWindow) {
    const parts = [{ '<=': [{ var: 'at' }, now] }];
    if (hasWindow) parts.push({ '>': [{ var: 'at' }, now - durationSecs(v.window)] });
    if (v.filter) parts.push(t(v.filter, true));
    return { and: parts };
  }

  const events = (v, hasWindow) => ({ filter: [{ var: [`events.${v.event}`, []] }, windowed(v, hasWindow)] });

  function aggregate(v) {
    const list = events(v, true);
    const prop = { var: `current.${v.prop}` };
    const acc = { var: 'accumulator' };
    const present = { filter: [list, notNull({ var: v.prop })] };
    switch (v.func) {
      case 'sum':
        return { reduce: [present, { '+': [acc, prop] }, 0] };
      case 'min':
      case 'max': {
        const better = v.func === 'min' ? '<' : '>';
        return { reduce: [present, { if: [{ or: [{ '===': [acc, null] }, { [better]: [prop, acc] }] }, prop, acc] }, null] };
      }
      case 'avg':
        return {
          reduce: [
            present,
            // [sum, count] folded, then divided; null when nothing matched.
            { '+': [acc, prop] },
            0,
          ],
          avgOf: present,
        };
      default:
        throw new Error(`aggregate ${v.func}`);
    }
  }

  // `avg` needs the count too; rewrite the placeholder into sum / count.
  function fixAvg(node) {
    if (Array.isArray(node)) return node.map(fixAvg);
    if (node && typeof node === 'object') {
      if (node.avgOf) {
        const sum = { reduce: node.reduce };
        const count = { reduce: [node.avgOf, { '+': [{ var: 'accumulator' }, 1] }, 0] };
        return { if: [{ '>': [count, 0] }, { '/': [sum, count] }, null] };
      }
      return Object.fromEntries(Object.entries(node).map(([k, x]) => [k, fixAvg(x)]));
    }
    return node;
  }

  return fixAvg(t(rule));
}

/** A dpseg profile document as the data the JsonLogic rules read. */
export function toJsonLogicData(profile) {
  const attributes = {};
  for (const [k, v] of Object.entries(profile.attributes ?? {})) {
    attributes[k] = typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? timeSecs(v) : v;
  }
  const events = {};
  for (const e of profile.events ?? []) {
    (events[e.name] ??= []).push({ ...e.props, at: timeSecs(e.at) });
  }
  return { ...attributes, events };
}
