/* magnesium-cds playground: evaluate a FHIR Bundle and render the CDS Hooks cards as an EHR shows them.
 * No framework, no inline code (the page's CSP allows scripts and styles from this service only).
 * Card detail is Markdown from the service and may quote EHR-derived text: it is rendered with marked
 * and sanitised with DOMPurify before it reaches the DOM; everything else is set as text. */
(function () {
  "use strict";

  const INDICATORS = { info: "Info", warning: "Warning", critical: "Critical" };
  const ICONS = { info: "i", warning: "!", critical: "!!" };
  const $ = (id) => document.getElementById(id);
  const results = $("results");
  let samples = [];
  let run = 0;

  // Links in rendered Markdown open outside the page and do not leak it as referrer or opener.
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A" && node.hasAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  });

  function markdown(text) {
    const html = marked.parse(String(text), { gfm: true, async: false });
    return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(url, document.baseURI);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function externalLink(label, url, cls) {
    const href = safeUrl(url);
    if (!href) return el("span", { class: cls, text: label });
    return el("a", { class: cls, href, target: "_blank", rel: "noopener noreferrer", text: label });
  }

  function codeableText(concept) {
    if (!concept) return "";
    if (concept.text) return concept.text;
    const coding = (concept.coding || []).find((c) => c.display || c.code);
    return coding ? coding.display || coding.code : "";
  }

  function describeResource(resource) {
    if (!resource) return "";
    const what = codeableText(resource.code) || codeableText(resource.medicationCodeableConcept);
    return [resource.resourceType, what].filter(Boolean).join(": ");
  }

  // ---- cards ------------------------------------------------------------------------------------------

  function renderSuggestion(card, suggestion, node) {
    const button = el(
      "button",
      {
        type: "button",
        class: "btn suggestion__button" + (suggestion.isRecommended ? " btn--primary" : ""),
        "data-uuid": suggestion.uuid,
      },
      suggestion.label,
      suggestion.isRecommended ? el("span", { class: "tag", text: "recommended" }) : null
    );
    const actions = el("ul", { class: "suggestion__actions" });
    for (const action of suggestion.actions || []) {
      const target = action.resourceId || describeResource(action.resource);
      actions.append(
        el(
          "li",
          {},
          el("span", { class: `action-type action-type--${action.type}`, text: action.type }),
          " ",
          action.description || "",
          target ? el("span", { class: "action-target", text: ` (${target})` }) : null
        )
      );
    }
    button.addEventListener("click", () => {
      button.classList.add("btn--accepted");
      button.disabled = true;
      if (card.selectionBehavior === "at-most-one") {
        node.querySelectorAll(".suggestion__button").forEach((b) => {
          b.disabled = true;
        });
      }
      setStatus(node, `Accepted “${suggestion.label}”: the EHR would apply ${(suggestion.actions || []).length} action(s) and send feedback "accepted".`);
    });
    return el("div", { class: "suggestion" }, button, actions.children.length ? actions : null);
  }

  function setStatus(node, text) {
    const status = node.querySelector(".card__status");
    status.textContent = text;
    status.hidden = false;
  }

  function renderOverride(card, node) {
    const reasons = card.overrideReasons || [];
    const select = el("select", { class: "override__reason", "aria-label": "Override reason" });
    select.append(el("option", { value: "", text: reasons.length ? "Reason for dismissing…" : "No reason needed" }));
    reasons.forEach((r, i) => select.append(el("option", { value: String(i), text: r.display || r.code })));
    const confirm = el("button", { type: "button", class: "btn btn--small", text: "Confirm" });
    const form = el("span", { class: "override__form", hidden: true }, select, " ", confirm);
    const dismiss = el("button", { type: "button", class: "btn btn--quiet", text: "Dismiss" });
    dismiss.addEventListener("click", () => {
      form.hidden = false;
      dismiss.hidden = true;
    });
    confirm.addEventListener("click", () => {
      const reason = select.value === "" ? null : reasons[Number(select.value)];
      node.classList.add("card--dismissed");
      form.hidden = true;
      setStatus(
        node,
        reason
          ? `Dismissed: ${reason.display || reason.code} (feedback "overridden", reason ${reason.code}).`
          : `Dismissed (feedback "overridden", no reason).`
      );
    });
    const list = el("span", {
      class: "override__list",
      text: reasons.length ? "Override reasons: " + reasons.map((r) => r.display || r.code).join(" · ") : "",
    });
    return el("div", { class: "override" }, list, el("span", { class: "override__controls" }, dismiss, form));
  }

  function renderCard(card) {
    const indicator = INDICATORS[card.indicator] ? card.indicator : "info";
    const topic = (card.source && card.source.topic) || {};
    const node = el("article", {
      class: `card card--${indicator}`,
      "data-topic": topic.code || "",
      "data-indicator": card.indicator,
      "data-uuid": card.uuid,
      "data-override-reasons": (card.overrideReasons || []).length,
    });
    node.append(
      el(
        "header",
        { class: "card__head" },
        el("span", { class: `badge badge--${indicator}`, title: INDICATORS[indicator] },
          el("span", { class: "badge__icon", "aria-hidden": "true", text: ICONS[indicator] }),
          INDICATORS[indicator]),
        el("h3", { class: "card__summary", text: card.summary })
      )
    );
    if (card.detail) {
      const detail = el("div", { class: "card__detail" });
      detail.innerHTML = markdown(card.detail); // sanitised above
      node.append(detail);
    }
    if ((card.suggestions || []).length) {
      const box = el("div", { class: "card__suggestions" });
      for (const s of card.suggestions) box.append(renderSuggestion(card, s, node));
      node.append(box);
    }
    if ((card.links || []).length) {
      const box = el("div", { class: "card__links" });
      for (const link of card.links) {
        const a = externalLink(link.label, link.url, "btn btn--link");
        if (link.type === "smart") a.append(el("span", { class: "tag", text: "SMART app" }));
        box.append(a);
      }
      node.append(box);
    }
    const source = card.source || {};
    node.append(
      el(
        "footer",
        { class: "card__foot" },
        el("span", { class: "card__source" }, "Source: ", source.url ? externalLink(source.label, source.url) : source.label || ""),
        topic.code ? el("span", { class: "chip", title: topic.system || "", text: topic.display ? `${topic.display} · ${topic.code}` : topic.code }) : null,
        renderOverride(card, node)
      ),
      el("p", { class: "card__status", hidden: true })
    );
    return node;
  }

  // ---- findings ---------------------------------------------------------------------------------------

  function formatValue(value) {
    if (Array.isArray(value)) return value.length ? value.map(formatValue).join(", ") : "—";
    if (value !== null && typeof value === "object") return Object.keys(value).length ? JSON.stringify(value) : "—";
    return String(value);
  }

  function renderFinding(finding) {
    const evidence = el("ul", { class: "evidence" });
    for (const e of finding.evidence || []) {
      evidence.append(
        el("li", {}, el("code", { text: e.reference || "" }), e.display ? ` ${e.display}` : "", e.date ? el("span", { class: "date", text: ` ${e.date}` }) : null)
      );
    }
    const values = el("dl", { class: "values" });
    for (const [key, value] of Object.entries(finding.values || {})) {
      values.append(el("dt", { text: key }), el("dd", { text: formatValue(value) }));
    }
    return el(
      "tr",
      { "data-code": finding.code, "data-category": finding.category },
      el("td", { text: finding.category }),
      el("td", {}, el("code", { text: finding.code })),
      el("td", { text: finding.display || "" }),
      el("td", {}, evidence),
      el("td", { text: finding.since || "" }),
      el("td", {}, values)
    );
  }

  // ---- page -------------------------------------------------------------------------------------------

  function patientBanner(bundle) {
    const entry = (bundle.entry || []).find((e) => e && e.resource && e.resource.resourceType === "Patient");
    const banner = $("patient");
    banner.replaceChildren();
    if (!entry) {
      banner.hidden = true;
      return;
    }
    const p = entry.resource;
    const name = (p.name || [])[0] || {};
    const full = name.text || [...(name.given || []), name.family].filter(Boolean).join(" ") || `Patient/${p.id || "?"}`;
    banner.append(
      el("strong", { text: full }),
      el("span", { text: [p.gender, p.birthDate ? `born ${p.birthDate}` : null, p.id ? `Patient/${p.id}` : null].filter(Boolean).join(" · ") })
    );
    banner.hidden = false;
  }

  function showError(message, issues) {
    const box = $("error");
    box.replaceChildren(el("strong", { text: message }));
    if (issues && issues.length) {
      const list = el("ul");
      for (const issue of issues) {
        const where = (issue.expression || []).join(", ");
        list.append(el("li", { text: (issue.diagnostics || (issue.details && issue.details.text) || issue.code) + (where ? ` (${where})` : "") }));
      }
      box.append(list);
    }
    box.hidden = false;
  }

  function clearResults() {
    $("error").hidden = true;
    $("cards").replaceChildren();
    $("findings").tBodies[0].replaceChildren();
    $("card-count").textContent = "";
    $("finding-count").textContent = "";
    $("raw").textContent = "";
    $("expectation").hidden = true;
  }

  function showExpectation(cards) {
    const sample = samples.find((s) => s.name === results.dataset.sample);
    const box = $("expectation");
    if (!sample) return;
    const want = sample.expectedCards.map((c) => `${c.topic} (${c.indicator})`);
    const got = cards.map((c) => `${(c.source && c.source.topic && c.source.topic.code) || "?"} (${c.indicator})`);
    const same = JSON.stringify([...want].sort()) === JSON.stringify([...got].sort());
    box.textContent = `Golden expectation for ${sample.name}: ${want.length ? want.join(", ") : "no cards"} — ${same ? "matches" : "differs"}.`;
    box.className = same ? "hint expect-ok" : "hint expect-bad";
    box.hidden = false;
  }

  function render(body) {
    const cards = body.cards || [];
    const findings = body.findings || [];
    $("card-count").textContent = `(${cards.length})`;
    $("finding-count").textContent = `(${findings.length})`;
    const list = $("cards");
    if (cards.length) cards.forEach((c) => list.append(renderCard(c)));
    else list.append(el("p", { class: "empty", text: "No cards: the service has nothing to say about this patient." }));
    const rows = $("findings").tBodies[0];
    if (findings.length) findings.forEach((f) => rows.append(renderFinding(f)));
    else rows.append(el("tr", { class: "empty" }, el("td", { colspan: 6, text: "No findings." })));
    $("raw").textContent = JSON.stringify(body, null, 2);
    showExpectation(cards);
  }

  function hook() {
    return document.querySelector('input[name="hook"]:checked').value;
  }

  async function evaluate() {
    run += 1;
    const mine = run;
    results.dataset.run = String(mine);
    results.dataset.state = "loading";
    clearResults();
    let bundle;
    try {
      bundle = JSON.parse($("bundle").value);
    } catch (err) {
      showError(`The Bundle is not valid JSON: ${err.message}`);
      results.dataset.state = "error";
      return;
    }
    patientBanner(bundle && typeof bundle === "object" ? bundle : {});
    try {
      const response = await fetch(`playground/evaluate?hook=${encodeURIComponent(hook())}`, {
        method: "POST",
        headers: { "Content-Type": "application/fhir+json", Accept: "application/json" },
        body: JSON.stringify(bundle),
      });
      const body = await response.json();
      if (mine !== run) return; // a newer evaluation started meanwhile
      if (!response.ok) {
        showError(`The service answered ${response.status}.`, body.issue);
        results.dataset.state = "error";
        return;
      }
      render(body);
      results.dataset.state = "done";
    } catch (err) {
      if (mine !== run) return;
      showError(`Could not evaluate: ${err.message}`);
      results.dataset.state = "error";
    }
  }

  async function pickSample(name) {
    const sample = samples.find((s) => s.name === name);
    results.dataset.sample = name;
    $("sample-description").textContent = sample ? sample.description : "";
    if (!sample) return;
    document.querySelector(`input[name="hook"][value="${sample.hook}"]`).checked = true;
    const response = await fetch(`playground/samples/${encodeURIComponent(name)}`);
    const text = await response.text();
    if (results.dataset.sample !== name) return;
    $("bundle").value = JSON.stringify(JSON.parse(text), null, 2);
    await evaluate();
  }

  async function loadSamples() {
    const response = await fetch("playground/samples");
    samples = (await response.json()).samples;
    const select = $("sample");
    for (const s of samples) {
      const cards = s.expectedCards.length ? s.expectedCards.map((c) => c.topic).join(", ") : "no card";
      select.append(el("option", { value: s.name, text: `${s.name} — ${s.hook} → ${cards}` }));
    }
    if (!samples.length) {
      $("sample-description").textContent = "No golden samples here (fhir_samples/ is not beside the service): paste a Bundle.";
    }
    select.dataset.loaded = String(samples.length);
  }

  $("sample").addEventListener("change", (event) => {
    pickSample(event.target.value);
  });
  $("bundle").addEventListener("input", () => {
    results.dataset.sample = "";
    $("sample").value = "";
    $("sample-description").textContent = "";
  });
  $("evaluate").addEventListener("click", () => {
    evaluate();
  });
  loadSamples().catch((err) => showError(`Could not list the samples: ${err.message}`));
})();
