// The engine's consent: the visitor's choice per purpose (and per campaign that reads sensitive
// data), Global Privacy Control, and what each choice allows: keeping data, using memberships on
// the page, reporting. Mixed into Engine (engine.js).

/** The Engine's consent methods. */
export const consentMethods = {
  /** True when the browser sends Global Privacy Control. */
  gpc() {
    return globalThis.navigator?.globalPrivacyControl === true;
  },

  /** Whether reports for `purpose` may be sent: the visitor's switch, and GPC for measurement. */
  allowed(purpose) {
    if (this.consentState[purpose] !== true) return false;
    if (this.honourGpc && this.gpc()) return false;
    return true;
  },

  /**
   * The visitor's choices, `{key: bool}` (GPC not applied; see `allowed`): a key is a purpose,
   * or `campaign:ID` for a campaign that reads sensitive data (`CampaignInfo.sensitive`).
   */
  consent() {
    return { ...this.consentState };
  },

  /**
   * Whether a campaign (`{id, purpose, sensitive}`, as its info or an outbox entry has them)
   * may report. A report is measurement: it needs the visitor's yes to measurement
   * (`open({measurement})`), to the campaign's own purpose (the same for a measurement
   * campaign) and, when it reads sensitive data, to `campaign:ID`.
   */
  mayReport({ id, purpose, sensitive }) {
    return this.allowed(this.measurement) && this.allowed(purpose) && (!sensitive?.length || this.allowed(`campaign:${id}`));
  },

  /** Records the visitor's choice for a purpose. Withdrawing drops queued reports for it. */
  setConsent(purpose, granted) {
    this.sync();
    this.consentState[String(purpose)] = granted === true;
    this.store.setJson('consent', this.consentState);
    // A choice: what the visitor's choices allow is kept now, and the rest removed from storage.
    this.saveProfile();
    if (granted !== true) this.dropDisallowed();
    this.arm();
  },

  dropDisallowed() {
    const keep = this.outbox.filter((r) => this.mayReport({ ...r, id: r.campaign }));
    if (keep.length !== this.outbox.length) {
      this.outbox = keep;
      this.store.setJson('outbox', this.outbox);
    }
  },

  /**
   * Whether data with these purposes may be written to storage: the visitor allowed one of
   * them, or (`given`: a declared attribute, zero-party data given on purpose) the visitor has
   * not chosen for one of them yet and the data map keeps declared data for it before consent
   * (`[purposes.NAME] before_consent = "declared"`). Observed attributes and events wait for
   * consent. The rest of the profile lives in memory only.
   */
  mayKeep(purposes = [], given) {
    return purposes.some(
      (p) => this.allowed(p) || (given && this.consentState[p] === undefined && this.map().purposes?.[p]?.before_consent === 'declared'),
    );
  },

  /**
   * Why the page may not use this campaign's memberships, or `null` when it may: the
   * campaign's purpose is one the site personalises with (`open({personalize})`), the visitor
   * allowed that purpose (or has not chosen yet and the data map keeps declared data for it
   * before consent), and, for a campaign that reads sensitive data, allowed this campaign.
   */
  refusal({ id, purpose, sensitive }) {
    if (!this.personalize.includes(purpose)) return ['not-for-personalization', `campaign '${id}' is for ${purpose}`];
    if (!this.mayKeep([purpose], true) || (sensitive.length && !this.allowed(`campaign:${id}`))) {
      return ['no-consent', `no consent for '${id}'`];
    }
  },
};
