// Drive the official npm client `smtp2go-nodejs` against a Postroom server.
//
// Usage: node send_with_node.js <package dir> <base url> <api key> <spec json>
//
// <package dir> is the folder holding node_modules/smtp2go-nodejs; <base url> is the server's
// `/v3/` root (trailing slash kept: the client appends the endpoint to it). The spec is:
//   {"action": "mail", "from": {email, name?}, "to": [...], "cc": [...], "bcc": [...],
//    "subject": "...", "text": "...", "html": "...", "headers": [{header, value}],
//    "attachments": ["/path/to/file"], "inlines": [{"cid": "...", "path": "/path/to/file"}]}
// or {"action": "service", "endpoint": "activity/search", "body": {...}} for the generic Service.
//
// Prints one JSON line: {"ok": true, "body": <response body>} when the library resolved with the
// body, {"ok": false, "status": <int>, "body": <response body>} when it returned axios'
// error.response (non-2xx), or {"ok": false, "error": "..."} when it threw.
"use strict";

const path = require("path");

async function main() {
  const [pkgDir, baseUrl, apiKey, specText] = process.argv.slice(2);
  if (!pkgDir || !baseUrl || apiKey === undefined || !specText) {
    throw new Error("usage: send_with_node.js <package dir> <base url> <api key> <spec json>");
  }
  const lib = require(path.join(pkgDir, "node_modules", "smtp2go-nodejs"));
  const SMTP2GOApi = lib.default;
  const spec = JSON.parse(specText);

  const api = SMTP2GOApi(apiKey);
  const client = api.client();
  client.apiUrl = baseUrl;

  let service;
  if (spec.action === "service") {
    service = new lib.Service(spec.endpoint, new Map(Object.entries(spec.body || {})));
  } else {
    const mail = api.mail();
    mail.from(spec.from);
    mail.to(spec.to);
    if (spec.cc && spec.cc.length) mail.cc(spec.cc);
    if (spec.bcc && spec.bcc.length) mail.bcc(spec.bcc);
    if (spec.subject !== undefined) mail.subject(spec.subject);
    if (spec.text !== undefined) mail.text(spec.text);
    if (spec.html !== undefined) mail.html(spec.html);
    if (spec.headers && spec.headers.length) mail.headers(spec.headers);
    for (const file of spec.attachments || []) {
      mail.attach(new lib.MailAttachment(file));
    }
    for (const inline of spec.inlines || []) {
      mail.inline(inline.cid, inline.path);
    }
    service = mail;
  }

  const result = await client.consume(service);
  // consume() resolves with the body on 2xx and with axios' error.response otherwise.
  if (result && typeof result === "object" && "config" in result && "status" in result) {
    return { ok: false, status: result.status, body: result.data };
  }
  if (result === undefined) {
    return { ok: false, error: "no response (connection failed)" };
  }
  return { ok: true, body: result };
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out) + "\n"),
  (err) => {
    process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack || err) }) + "\n");
    process.exitCode = 1;
  },
);
